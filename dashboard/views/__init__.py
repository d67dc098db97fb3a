"""Dashboard pages, one file each."""
