// Google Cloud IoT: the virtual board is never connected to it (the course uses AWS IoT).
let GCP = {
  isConnected: ffi('bool mgos_gcp_is_connected()'),
  sendEvent: ffi('bool mgos_gcp_send_eventp(struct mg_str *)'),
  sendState: ffi('bool mgos_gcp_send_statep(struct mg_str *)'),
};
