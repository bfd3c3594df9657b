// Command ccrclient calls a running ccr mesh from Go with grpc-go and the stubs that
// `npx buf generate --template buf.gen.go.yaml` writes to clients/go/gen (see docs/clients.md):
// the health of the gateway, Capability.List, and Gateway.GetSecrets with an empty request to show
// how a gRPC status comes back.
//
//	npx ccr up                                  # in another terminal
//	npx buf generate --template buf.gen.go.yaml
//	cd clients/go && go mod init ccrclient && go mod tidy
//	go run . -gateway 127.0.0.1:7400 -capability 127.0.0.1:7406
//
// There is deliberately no go.mod here: ccr is a Node project, and a committed go.mod would pin
// grpc-go versions nobody maintains. The import path ccrclient/gen/... comes from the
// go_package_prefix in buf.gen.go.yaml.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	ccrv1 "ccrclient/gen/ccr/v1"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

func main() {
	gateway := flag.String("gateway", "127.0.0.1:7400", "gateway host:port (the `gateway` endpoint of `ccr up`)")
	capability := flag.String("capability", "127.0.0.1:7406", "capability service host:port (the `capability` endpoint)")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	// ccr serves gRPC over plaintext HTTP/2 (h2c): insecure transport credentials, no TLS.
	dial := func(target string) *grpc.ClientConn {
		conn, err := grpc.Dial(target, grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			log.Fatalf("dial %s: %v", target, err)
		}
		return conn
	}
	gatewayConn := dial(*gateway)
	defer gatewayConn.Close()
	capabilityConn := dial(*capability)
	defer capabilityConn.Close()

	// grpc.health.v1 comes with grpc-go; buf.gen.go.yaml does not generate it again.
	health, err := healthpb.NewHealthClient(gatewayConn).Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		log.Fatalf("gateway health: %v", err)
	}
	fmt.Printf("gateway health: %s\n", health.GetStatus())

	list, err := ccrv1.NewCapabilityClient(capabilityConn).List(ctx, &ccrv1.CapabilityListRequest{})
	if err != nil {
		log.Fatalf("Capability.List: %v", err)
	}
	for _, c := range list.GetCapabilities() {
		fmt.Printf("capability %s: %s\n", c.GetId(), c.GetDescription())
	}

	// A real GetSecrets needs an enclave's attestation and the workflow node's authorization; an empty
	// request shows the error path instead: the gateway answers InvalidArgument.
	_, err = ccrv1.NewGatewayClient(gatewayConn).GetSecrets(ctx, &ccrv1.GetSecretsRequest{})
	if st, ok := status.FromError(err); ok && err != nil {
		fmt.Printf("Gateway.GetSecrets({}): %s: %s\n", st.Code(), st.Message())
	} else if err != nil {
		log.Fatalf("Gateway.GetSecrets: %v", err)
	} else {
		fmt.Fprintln(os.Stderr, "Gateway.GetSecrets({}) unexpectedly succeeded")
		os.Exit(1)
	}
}
