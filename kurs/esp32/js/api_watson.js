// IBM Watson IoT: the virtual board is never connected to it (the course uses AWS IoT).
let Watson = {
  isConnected: ffi('bool mgos_watson_is_connected()'),
  _send: ffi('bool mgos_watson_send_event_jsonp(struct mg_str *, struct mg_str *)'),
  sendEventJSON: function __kurs_watson_send(id, obj) {
    return this._send(id, JSON.stringify(obj));
  },
};
