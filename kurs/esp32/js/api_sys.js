// System functions for the virtual ESP32.
let Sys = {
  malloc: ffi('void *malloc(int)'),
  free: ffi('void free(void *)'),
  // Bytes of heap: the whole heap, and what is free now.
  total_ram: ffi('int mgos_get_heap_size()'),
  free_ram: ffi('int mgos_get_free_heap_size()'),
  // Sys.reboot(ms): restart the board after ms milliseconds (init.js runs again from scratch).
  reboot: ffi('void mgos_system_restart_after(int)'),
  // Seconds since the board started (a double).
  uptime: ffi('double mgos_uptime()'),
  // Busy-wait: nothing else runs meanwhile.
  usleep: ffi('void mgos_usleep(int)'),
  wdt_feed: ffi('void mgos_wdt_feed()'),
  _sbuf: function __kurs_sys_sbuf(len) {
    let buf = '';
    while (buf.length < len) buf += '          ';
    return buf;
  },
};
