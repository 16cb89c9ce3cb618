// Browser-style helpers on top of Timer, as the mjs library offers them.
let console = {log: print, error: print};

let setTimeout = function __kurs_set_timeout(fn, ms) {
  load('api_timer.js');
  return Timer.set(ms, 0, fn, null);
};

let setInterval = function __kurs_set_interval(fn, ms) {
  load('api_timer.js');
  return Timer.set(ms, Timer.REPEAT, fn, null);
};

let clearTimeout = function __kurs_clear_timeout(id) {
  load('api_timer.js');
  return Timer.del(id);
};

let clearInterval = clearTimeout;
