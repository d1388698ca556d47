"""homelab-approvals: approve or reject homelab remediation actions from a terminal."""

__version__ = "0.1.0"
