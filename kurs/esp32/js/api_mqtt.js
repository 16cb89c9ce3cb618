// MQTT for the virtual ESP32: one connection, configured by mqtt.* (server, TLS files, client id).
let MQTT = {
  _sub: ffi('void mgos_mqtt_sub(char *, void (*)(void *, void *, int, void *, int, userdata), userdata)'),
  _subf: function __kurs_mqtt_subf(conn, topic, len1, msg, len2, ud) {
    return ud.cb(conn, mkstr(topic, len1), mkstr(msg, len2), ud.ud);
  },
  _pub: ffi('int mgos_mqtt_pub(char *, void *, int, int, bool)'),

  // true while the broker connection is up.
  isConnected: ffi('bool mgos_mqtt_global_is_connected()'),
  // MQTT.sub(topic, cb(conn, topic, msg, userdata), userdata); '+' and '#' work in topic.
  sub: function __kurs_mqtt_sub(topic, cb, ud) {
    return this._sub(topic, this._subf, {cb: cb, ud: ud});
  },
  // MQTT.pub(topic, msg, qos = 0, retain = false): the packet id, also while offline (QoS 1 then
  // waits in a queue of mqtt.max_queue_length); 0 only when MQTT is disabled.
  pub: function __kurs_mqtt_pub(t, m, qos, retain) {
    qos = qos || 0;
    return this._pub(t, m, m.length, qos, retain || false);
  },
  // cb(conn, ev, edata, userdata) for connection events (EV_*).
  setEventHandler: ffi('void mgos_mqtt_add_global_handler(void (*)(void *, int, void *, userdata), userdata)'),

  EV_CONNACK: 202,
  EV_PUBLISH: 203,
  EV_PUBACK: 204,
  EV_SUBACK: 209,
  EV_UNSUBACK: 211,
  EV_CLOSE: 5,
};
