"""The care inbox: mentions that need an answer, grouped, prioritised and worked by the team."""
