// Events for the virtual ESP32: cb(ev, evdata, userdata).
let Event = {
  addHandler: ffi('bool mgos_event_add_handler(int, void(*)(int, void *, userdata), userdata)'),
  // All 256 events of a group: evgrp & ~0xff up to evgrp | 0xff.
  addGroupHandler: ffi('bool mgos_event_add_group_handler(int, void(*)(int, void *, userdata), userdata)'),
  on: function __kurs_event_on(ev, cb, cbdata) {
    this.addHandler(ev, cb, cbdata);
    return this;
  },
  regBase: ffi('bool mgos_event_register_base(int, char *)'),
  // Three characters packed into the top three bytes: the group's first event number.
  baseNumber: function __kurs_event_base(id) {
    if (id.length !== 3) {
      die('Base event id should have exactly 3 chars');
      return -1;
    }
    return (id.at(0) << 24) | (id.at(1) << 16) | (id.at(2) << 8);
  },
  trigger: ffi('int mgos_event_trigger(int, void *)'),
  evdataLogStr: function __kurs_event_logstr(evdata) {
    return mkstr(Event._gdd(evdata), 0, Event._gdl(evdata), true);
  },
  _gdd: ffi('void *mgos_debug_event_get_ptr(void *)'),
  _gdl: ffi('int mgos_debug_event_get_len(void *)'),
};

Event.SYS = Event.baseNumber('MOS');
Event.LOG = Event.SYS + 1;
Event.REBOOT = Event.SYS + 2;
Event.OTA_TIME_CHANGED = Event.SYS + 3;
// Connected to / disconnected from the cloud (MQTT, AWS IoT).
Event.CLOUD_CONNECTED = Event.SYS + 4;
Event.CLOUD_DISCONNECTED = Event.SYS + 5;
