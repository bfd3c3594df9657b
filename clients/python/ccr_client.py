#!/usr/bin/env python3
"""A minimal Python client for a running ccr mesh, with grpcio and the buf-generated stubs.

    npx ccr up                                          # in another terminal
    npx buf generate --template buf.gen.python.yaml     # writes clients/python/gen/
    python3 clients/python/ccr_client.py --gateway http://127.0.0.1:7400 \\
        --capability http://127.0.0.1:7406

It lists the registered capabilities and sends the gateway an empty GetSecrets request to show how a
gRPC error comes back (a real one needs an enclave's attestation and the workflow node's
authorization). Needs grpcio and protobuf >= 3.20 (Debian: python3-grpcio python3-protobuf; pip:
grpcio protobuf). See docs/clients.md.
"""

import argparse
import os
import sys
from urllib.parse import urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))


def target_of(endpoint):
    """Accepts `http://host:port` (as `ccr up` prints it) or `host:port`; grpcio wants `host:port`."""
    parts = urlsplit(endpoint if "://" in endpoint else f"http://{endpoint}")
    if parts.scheme != "http":
        sys.exit(f"{endpoint}: ccr serves plaintext h2c; use an http:// endpoint")
    return parts.netloc


def main():
    parser = argparse.ArgumentParser(description="List ccr capabilities and show a gateway error, over gRPC.")
    parser.add_argument("--gateway", default="http://127.0.0.1:7400", help="the gateway endpoint of `ccr up`")
    parser.add_argument("--capability", default="http://127.0.0.1:7406", help="the capability endpoint of `ccr up`")
    parser.add_argument("--stubs", default=os.path.join(HERE, "gen"), help="buf.gen.python.yaml output (default: %(default)s)")
    args = parser.parse_args()

    if not os.path.isdir(os.path.join(args.stubs, "ccr", "v1")):
        sys.exit(f"no stubs in {args.stubs}: run `npx buf generate --template buf.gen.python.yaml` in the repository root")
    sys.path.insert(0, args.stubs)
    import grpc
    from ccr.v1 import capability_pb2, capability_pb2_grpc, gateway_pb2_grpc, relay_pb2

    # ccr speaks gRPC over plaintext HTTP/2 (h2c): an insecure channel, no TLS.
    with grpc.insecure_channel(target_of(args.capability)) as channel:
        try:
            response = capability_pb2_grpc.CapabilityStub(channel).List(capability_pb2.CapabilityListRequest(), timeout=10)
        except grpc.RpcError as error:
            sys.exit(f"Capability.List: {error.code().name}: {error.details()}")
        for capability in response.capabilities:
            print(f"capability {capability.id}: {capability.description}")

    with grpc.insecure_channel(target_of(args.gateway)) as channel:
        try:
            gateway_pb2_grpc.GatewayStub(channel).GetSecrets(relay_pb2.GetSecretsRequest(), timeout=10)
            sys.exit("Gateway.GetSecrets({}) unexpectedly succeeded")
        except grpc.RpcError as error:
            # error.code() is a grpc.StatusCode; error.details() the server's message.
            print(f"Gateway.GetSecrets({{}}): {error.code().name}: {error.details()}")


if __name__ == "__main__":
    main()
