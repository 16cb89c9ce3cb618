// The device shadow for the virtual ESP32 (AWS IoT backend).
load('api_events.js');

let Shadow = {
  BASE: Event.baseNumber('SDW'),
  _en: ffi('char *mgos_shadow_event_name(int)'),
  _sp: ffi('void *mgos_get_mgstr_ptr(void *)'),
  _sl: ffi('int mgos_get_mgstr_len(void *)'),
  _upd: ffi('bool mgos_shadow_update(double, char *)'),

  // cb(event, obj): event is 'CONNECTED', 'GET_ACCEPTED', 'GET_REJECTED', 'UPDATE_ACCEPTED',
  // 'UPDATE_REJECTED' or 'UPDATE_DELTA'; obj is the parsed "state" for GET_ACCEPTED,
  // UPDATE_ACCEPTED and UPDATE_DELTA, else {}.
  addHandler: function __kurs_shadow_add(cb) {
    Event.addGroupHandler(this.BASE, function __kurs_shadow_dispatch(ev, evdata, ud) {
      let n = ev - ud.self.BASE;
      let obj = {};
      let name = ud.self._en(ev) || '???';
      if (n === 3 || n === 5 || n === 7) {
        let s = mkstr(ud.self._sp(evdata), ud.self._sl(evdata));
        if (s) obj = JSON.parse(s);
      }
      ud.cb(name, obj);
    }, {cb: cb, self: this});
  },
  // Ask for the whole shadow: the answer comes as GET_ACCEPTED or GET_REJECTED.
  get: ffi('bool mgos_shadow_get(void)'),
  // Shadow.update(0, {on: true}) reports state.reported; a version other than 0 must match.
  // Like the shadow library's api_shadow.js it returns nothing: success shows up later as
  // UPDATE_ACCEPTED (or UPDATE_REJECTED) in the handler.
  update: function __kurs_shadow_update(version, obj) {
    this._upd(version, JSON.stringify(obj));
  },
};

let Twin = Shadow;
