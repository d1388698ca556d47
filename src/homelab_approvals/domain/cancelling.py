"""What a cancel leaves in HomelabCmd's columns: status "failed" with this exit code and
stderr. Written by the service; read by anything that shows an action as "cancelled"."""

CANCELLED_EXIT_CODE = -1
CANCELLED_STDERR = "Action cancelled by user"
#: The reason on a cancel's event. Its change reads "approved -> failed", which alone would
#: say the run failed; the reason says the operator named as its actor cancelled it.
CANCELLED_EVENT_REASON = "cancelled"
