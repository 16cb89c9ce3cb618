// Configuration for the virtual ESP32 (mos.yml config_schema + the device's saved settings).
let Cfg = {
  _get: ffi('char *kurs_config_get_json(char *)'),
  _set: ffi('bool mgos_config_apply(char *, bool)'),
  // Cfg.get('board.led1.pin') -> 13; strings, numbers and booleans only (an object path gives undefined).
  get: function __kurs_cfg_get(path) {
    let json = this._get(path);
    if (json === null) return undefined;
    return JSON.parse(json);
  },
  // Cfg.set({debug: {level: 3}}, save): save defaults to true.
  set: function __kurs_cfg_set(obj, save) {
    return this._set(JSON.stringify(obj), save === undefined ? true : save);
  },
};
