// The page's Consort clients: the generated Connect-web clients over the Connect protocol (binary), to the server
// that served the page. The page talks to Consort through these only.
import { createClient, type Client } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { CoordinationService } from "../../gen/ts/consort/v1/coordination_pb.js";
import { DependencyService } from "../../gen/ts/consort/v1/dependency_pb.js";
import { RoutingService } from "../../gen/ts/consort/v1/routing_pb.js";
import { SignalService } from "../../gen/ts/consort/v1/signal_pb.js";

/** The clients the views use. */
export interface Clients {
  readonly coordinations: Client<typeof CoordinationService>;
  readonly signals: Client<typeof SignalService>;
  readonly dependencies: Client<typeof DependencyService>;
  readonly routing: Client<typeof RoutingService>;
}

/** Clients of the Consort server at `baseUrl` (the page's own origin by default). */
export function createClients(baseUrl: string = window.location.origin): Clients {
  const transport = createConnectTransport({ baseUrl, useBinaryFormat: true });
  return {
    coordinations: createClient(CoordinationService, transport),
    signals: createClient(SignalService, transport),
    dependencies: createClient(DependencyService, transport),
    routing: createClient(RoutingService, transport),
  };
}
