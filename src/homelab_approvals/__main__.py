from homelab_approvals.cli.main import main

raise SystemExit(main())
