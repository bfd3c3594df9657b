"""Calls a running ccr mesh with grpcio and the buf-generated Python stubs; prints one JSON object.

Run by test/polyglot/python-client.test.ts:

    python3 grpcio_calls.py --stubs DIR --gateway URL --capability URL

DIR is the output of `buf generate --template buf.gen.python.yaml` (the directory holding `ccr/` and
`grpc/`); URLs are the `http://host:port` endpoints from `ccr up --json`. Every call's outcome is
reported, success or gRPC status, so the test (not this script) decides what is right; the exit code
is non-zero only when the script itself cannot run (bad arguments, stubs missing).
"""

import argparse
import json
import os
import sys
from urllib.parse import urlsplit

# Seconds; generous for a loaded 2-core CI box. Not asserted on.
CALL_TIMEOUT_S = 20


def target_of(url):
    """`http://127.0.0.1:7400` -> `127.0.0.1:7400` (grpcio wants host:port; plaintext is the channel kind)."""
    parts = urlsplit(url)
    if parts.scheme != "http" or not parts.hostname or not parts.port:
        sys.exit(f"expected an http://host:port endpoint, got {url!r}")
    return f"{parts.hostname}:{parts.port}"


def load_stubs(stubs_dir):
    """Imports the generated modules from stubs_dir."""
    if not os.path.isdir(os.path.join(stubs_dir, "ccr", "v1")):
        sys.exit(f"no generated stubs in {stubs_dir!r} (run buf generate --template buf.gen.python.yaml)")
    sys.path.insert(0, stubs_dir)
    import grpc

    # The vendored grpc.health.v1 protos generate into `grpc/health/v1/`, but `grpc` is grpcio's own
    # (regular) package, so Python never looks for `grpc.health` in stubs_dir. Debian has no
    # grpcio-health-checking (whose stubs live in `grpc_health.v1`), so make the generated ones
    # reachable by adding stubs_dir/grpc to grpcio's package path.
    grpc.__path__.append(os.path.join(stubs_dir, "grpc"))

    from ccr.v1 import capability_pb2, capability_pb2_grpc, gateway_pb2_grpc, relay_pb2
    from grpc.health.v1 import health_pb2, health_pb2_grpc

    return grpc, capability_pb2, capability_pb2_grpc, gateway_pb2_grpc, relay_pb2, health_pb2, health_pb2_grpc


def outcome(grpc, call):
    """{"ok": result} or {"error": {"code": "INVALID_ARGUMENT", "details": "..."}}."""
    try:
        return {"ok": call()}
    except grpc.RpcError as error:
        return {"error": {"code": error.code().name, "details": error.details()}}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stubs", required=True)
    parser.add_argument("--gateway", required=True)
    parser.add_argument("--capability", required=True)
    args = parser.parse_args()

    grpc, capability_pb2, capability_pb2_grpc, gateway_pb2_grpc, relay_pb2, health_pb2, health_pb2_grpc = load_stubs(
        os.path.abspath(args.stubs)
    )

    # ccr serves plaintext HTTP/2 (h2c) for gRPC: an insecure channel, no TLS.
    with grpc.insecure_channel(target_of(args.gateway)) as gateway_channel, grpc.insecure_channel(
        target_of(args.capability)
    ) as capability_channel:
        def health(channel):
            stub = health_pb2_grpc.HealthStub(channel)
            response = stub.Check(health_pb2.HealthCheckRequest(), timeout=CALL_TIMEOUT_S)
            return {"status": health_pb2.HealthCheckResponse.ServingStatus.Name(response.status)}

        def capability_list():
            stub = capability_pb2_grpc.CapabilityStub(capability_channel)
            response = stub.List(capability_pb2.CapabilityListRequest(), timeout=CALL_TIMEOUT_S)
            return {
                "capabilities": [
                    {
                        "id": c.id,
                        "description": c.description,
                        "inputSchema": c.input_schema,
                        "outputSchema": c.output_schema,
                    }
                    for c in response.capabilities
                ]
            }

        def gateway_get_secrets_empty():
            # Deliberately empty: the gateway must refuse it (no request id) with INVALID_ARGUMENT.
            stub = gateway_pb2_grpc.GatewayStub(gateway_channel)
            # (GetSecretsRequest is declared in relay.proto: the relay nodes get the same message.)
            stub.GetSecrets(relay_pb2.GetSecretsRequest(), timeout=CALL_TIMEOUT_S)
            return {}

        result = {
            "grpcioVersion": grpc.__version__,
            "health": {
                "gateway": outcome(grpc, lambda: health(gateway_channel)),
                "capability": outcome(grpc, lambda: health(capability_channel)),
            },
            "capabilityList": outcome(grpc, capability_list),
            "gatewayGetSecretsEmpty": outcome(grpc, gateway_get_secrets_empty),
        }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
