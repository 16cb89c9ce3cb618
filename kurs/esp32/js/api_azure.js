// Azure IoT Hub: the virtual board is never connected to it (the course uses AWS IoT).
let Azure = {
  isConnected: ffi('bool mgos_azure_is_connected()'),
  sendD2CMsg: ffi('bool mgos_azure_send_d2c_msgp(struct mg_str *, struct mg_str *)'),
};
