"""The Asterisk-compatible dialplan: extensions.conf parsing, matching, substitution, expressions, execution."""
