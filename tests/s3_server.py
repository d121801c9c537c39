"""moto's S3 server on 127.0.0.1 for the end-to-end tests.

Prints the port it listens on, then serves until its stdin closes: the test process
holds the other end, so the server ends with the tests however they end.
"""

import sys

from moto.server import ThreadedMotoServer

server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()
server.stop()
