// mDash: the virtual board is never connected to it (the course uses AWS IoT).
let Dash = {
  isConnected: ffi('bool mgos_dash_is_connected()'),
  _no: ffi('void mgos_dash_notify(char *, char *)'),
  notify: function __kurs_dash_notify(name, data) {
    if (typeof data !== 'string') data = JSON.stringify(data);
    this._no(name, data);
  },
};
