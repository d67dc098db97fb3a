"""The offline demo: a sample story, its feeds on a local server, and the runner that starts it all."""
