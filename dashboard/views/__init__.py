"""Dashboard pages, one file each (not named `pages/`: see dashboard/app.py)."""
