"""The weekly manager report: one ISO week's figures as a self-contained HTML page and e-mail."""
