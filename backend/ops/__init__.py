"""What operations watch: metrics (and, beside them, logs, traces and backups)."""
