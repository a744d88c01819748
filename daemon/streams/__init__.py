"""A container's streams: the json-file log read as docker's logs and attach, and stdin FIFOs."""
