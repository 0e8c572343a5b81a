"""oslomig: plan and run a municipality's data-centre and file-share migration."""

__version__ = "0.1.0"
