// AWS IoT for the virtual ESP32.
let AWS = {
  // true when the MQTT connection is up and the shadow topics are subscribed.
  isConnected: ffi('bool mgos_aws_is_connected()'),

  Shadow: {
    _seth: ffi('void mgos_aws_shadow_set_state_handler_simple(int (*)(userdata, int, char *, char *, char *, char *), userdata)'),
    _upd: ffi('int mgos_aws_shadow_update_simple(double, char *)'),
    _ext: ffi('int mgos_aws_shadow_update_ext_simple(double, char *)'),
    _scb: function __kurs_aws_scb(ud, ev, rep, des, rm, dm) {
      rep = rep !== '' ? JSON.parse(rep) : {};
      des = des !== '' ? JSON.parse(des) : {};
      ud.cb(ud.ud, ev, rep, des, rm, dm);
    },
    // cb(userdata, event, reported, desired, reported_metadata, desired_metadata)
    setStateHandler: function __kurs_aws_seth(cb, ud) {
      this._seth(this._scb, {cb: cb, ud: ud});
    },
    get: ffi('bool mgos_aws_shadow_get()'),
    getVersion: ffi('double mgos_aws_shadow_get_last_state_version(void)'),
    update: function __kurs_aws_update(ver, state) {
      return this._upd(ver, JSON.stringify(state)) === 1;
    },
    update_ext: function __kurs_aws_update_ext(ver, state) {
      return this._ext(ver, JSON.stringify(state)) === 1;
    },
    eventName: ffi('char *mgos_aws_shadow_event_name(int)'),
    CONNECTED: 0,
    GET_ACCEPTED: 1,
    GET_REJECTED: 2,
    UPDATE_ACCEPTED: 3,
    UPDATE_REJECTED: 4,
    UPDATE_DELTA: 5,
  },
};
