"""Team access: roles, accounts, sign-in, signed links, single sign-on and audited actions."""
