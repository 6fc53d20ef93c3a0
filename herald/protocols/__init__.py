"""Wire codecs: AWS Query (form in, XML out) and, later, AWS JSON; error mapping."""
