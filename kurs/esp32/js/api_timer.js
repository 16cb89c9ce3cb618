// Timers for the virtual ESP32. Like the real file, this one loads api_math.js too.
load('api_math.js');

let Timer = {
  REPEAT: 1,
  RUN_NOW: 2,
  // Timer.set(ms, flags, cb(userdata), userdata) -> timer id
  set: ffi('int mgos_set_timer(int,int,void(*)(userdata),userdata)'),
  // Seconds since 1970 (a double).
  now: ffi('double mg_time(void)'),
  del: ffi('void mgos_clear_timer(int)'),
  _fmt: ffi('char *kurs_strftime(char *, double)'),
  // Timer.fmt('%H:%M', Timer.now()) -> '13:37' (strftime, UTC like a board without a time zone).
  fmt: function __kurs_timer_fmt(fmt, time) {
    if (!fmt) return 'invalid format';
    let t = time || this.now();
    return this._fmt(fmt, t);
  },
};
