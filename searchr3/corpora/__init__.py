"""Text sources read from installed Debian packages, for dev sets and training pairs: man pages (NAME and
DESCRIPTION), Perl's POD FAQ sections, and the location of Python's HTML documentation."""
