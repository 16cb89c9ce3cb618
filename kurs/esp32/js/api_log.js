// Log.print(level, msg): a log line with this file's name and line, like the C libraries'.
let Log = {
  ERROR: 0,
  WARN: 1,
  INFO: 2,
  DEBUG: 3,
  VERBOSE_DEBUG: 4,
  _pr: ffi('void kurs_log_here(int, char *)'),
  print: function __kurs_log_print(level, msg) {
    this._pr(level, msg);
  },
  error: function __kurs_log_error(msg) {
    this._pr(this.ERROR, msg);
  },
  warn: function __kurs_log_warn(msg) {
    this._pr(this.WARN, msg);
  },
  info: function __kurs_log_info(msg) {
    this._pr(this.INFO, msg);
  },
  debug: function __kurs_log_debug(msg) {
    this._pr(this.DEBUG, msg);
  },
  verboseDebug: function __kurs_log_vdebug(msg) {
    this._pr(this.VERBOSE_DEBUG, msg);
  },
};
