// gRPC clients for the services behind the gateway, created once and reused.
import { PredictorServiceClient, RegistryServiceClient, SchedulerServiceClient, StatusServiceClient } from "@millrace/contracts";
import { grpc, grpcClientOptions } from "@millrace/runtime";

export interface GrpcClients {
  status: StatusServiceClient;
  predictor: PredictorServiceClient;
  /** The model registry is served by the predictor. */
  registry: RegistryServiceClient;
  scheduler: SchedulerServiceClient;
}

export interface GrpcAddresses {
  STATUS_GRPC_ADDR: string;
  PREDICTOR_GRPC_ADDR: string;
  SCHEDULER_GRPC_ADDR: string;
  GRPC_SERVICE_TOKEN?: string;
}

export function createGrpcClients(addr: GrpcAddresses): GrpcClients {
  const creds = grpc.credentials.createInsecure();
  const options = grpcClientOptions(addr.GRPC_SERVICE_TOKEN);
  return {
    status: new StatusServiceClient(addr.STATUS_GRPC_ADDR, creds, options),
    predictor: new PredictorServiceClient(addr.PREDICTOR_GRPC_ADDR, creds, options),
    registry: new RegistryServiceClient(addr.PREDICTOR_GRPC_ADDR, creds, options),
    scheduler: new SchedulerServiceClient(addr.SCHEDULER_GRPC_ADDR, creds, options),
  };
}

export function closeGrpcClients(c: GrpcClients): void {
  c.status.close();
  c.predictor.close();
  c.registry.close();
  c.scheduler.close();
}
