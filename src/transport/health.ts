/**
 * grpc.health.v1.Health for every ccr server (https://github.com/grpc/grpc/blob/master/doc/health-checking.md).
 *
 * One status per registered service plus "" for the server as a whole. Services may flip their own
 * status (e.g. a gateway is NOT_SERVING until enough relay nodes are connected) through
 * `server.health.set(...)`. On shutdown every status becomes NOT_SERVING, for good: load balancers
 * and watchers see it before the server stops accepting connections.
 */
import { Code, ConnectError, type HandlerContext, type ServiceImpl } from "@connectrpc/connect";
import { health } from "../contract/index.js";

export const ServingStatus = health.HealthCheckResponse_ServingStatus;
export type ServingStatus = health.HealthCheckResponse_ServingStatus;

/** The name under which the overall status is registered. */
export const overallHealthService = "";

export class HealthRegistry {
  private readonly statuses = new Map<string, ServingStatus>();
  private readonly listeners = new Set<() => void>();
  private shutDown = false;

  /**
   * Sets a service's status. After `shutdown()` every change is ignored: a server going down does
   * not come back to SERVING.
   */
  set(service: string, status: ServingStatus): void {
    if (this.shutDown) return;
    if (this.statuses.get(service) === status) return;
    this.statuses.set(service, status);
    this.notify();
  }

  /** The status, or undefined for a service this server does not know. */
  get(service: string): ServingStatus | undefined {
    return this.statuses.get(service);
  }

  /** Every known service's status, "" included. */
  snapshot(): ReadonlyMap<string, ServingStatus> {
    return new Map(this.statuses);
  }

  get isShutDown(): boolean {
    return this.shutDown;
  }

  /** Flips every service to NOT_SERVING and freezes the statuses; watchers are told, then end. */
  shutdown(): void {
    if (this.shutDown) return;
    for (const service of this.statuses.keys()) this.statuses.set(service, ServingStatus.NOT_SERVING);
    this.shutDown = true;
    this.notify();
  }

  /**
   * The service's status now (SERVICE_UNKNOWN while unknown), then every change. Intermediate
   * changes that happen while the consumer is busy are coalesced to the latest, which is what a
   * health watcher needs. Ends after reporting the shutdown status; rejects with `signal.reason`
   * when the signal aborts.
   */
  async *watch(service: string, signal: AbortSignal): AsyncGenerator<ServingStatus> {
    let last: ServingStatus | undefined;
    for (;;) {
      if (signal.aborted) throw abortReason(signal);
      const current = this.statuses.get(service) ?? ServingStatus.SERVICE_UNKNOWN;
      if (current !== last) {
        last = current;
        yield current;
      }
      if (this.shutDown) return;
      await this.nextChange(signal);
    }
  }

  private nextChange(signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const onChange = (): void => {
        cleanup();
        resolve();
      };
      const onAbort = (): void => {
        cleanup();
        reject(abortReason(signal));
      };
      const cleanup = (): void => {
        this.listeners.delete(onChange);
        signal.removeEventListener("abort", onAbort);
      };
      this.listeners.add(onChange);
      signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  private notify(): void {
    for (const listener of [...this.listeners]) listener();
  }
}

/**
 * Rethrow the signal's own reason (a ConnectError for deadline, cancel or shutdown): an AbortError
 * made up here would reach the client as Internal (recipe §4 gotcha).
 */
function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new ConnectError("the call was canceled", Code.Canceled);
}

/** The Health service over a registry. */
export function healthService(registry: HealthRegistry): ServiceImpl<typeof health.Health> {
  return {
    check(request) {
      const status = registry.get(request.service);
      if (status === undefined) {
        const name = request.service.length <= 128 ? request.service : `${request.service.slice(0, 128)}… (${request.service.length} chars)`;
        throw new ConnectError(`unknown service "${name}"`, Code.NotFound);
      }
      return { status };
    },
    async *watch(request, ctx: HandlerContext) {
      for await (const status of registry.watch(request.service, ctx.signal)) {
        yield { status };
      }
    },
    list() {
      const statuses: Record<string, { status: ServingStatus }> = {};
      for (const [service, status] of registry.snapshot()) statuses[service] = { status };
      return { statuses };
    },
  };
}
