// GPIO for the virtual ESP32: the Mongoose OS names, constants and C signatures.
let GPIO = {
  MODE_INPUT: 0,
  MODE_OUTPUT: 1,
  PULL_NONE: 0,
  PULL_UP: 1,
  PULL_DOWN: 2,
  INT_NONE: 0,
  INT_EDGE_POS: 1,
  INT_EDGE_NEG: 2,
  INT_EDGE_ANY: 3,
  INT_LEVEL_HI: 4,
  INT_LEVEL_LO: 5,

  set_mode: ffi('int mgos_gpio_set_mode(int,int)'),
  set_pull: ffi('int mgos_gpio_set_pull(int,int)'),
  setup_input: ffi('int mgos_gpio_setup_input(int,int)'),
  setup_output: ffi('int mgos_gpio_setup_output(int,int)'),
  // toggle() returns the level the pin has afterwards (0 or 1).
  toggle: ffi('int mgos_gpio_toggle(int)'),
  write: ffi('void mgos_gpio_write(int,int)'),
  read: ffi('int mgos_gpio_read(int)'),
  read_out: ffi('int mgos_gpio_read_out(int)'),
  enable_int: ffi('int mgos_gpio_enable_int(int)'),
  disable_int: ffi('int mgos_gpio_disable_int(int)'),
  blink: ffi('int mgos_gpio_blink(int, int, int)'),
  // cb(pin, userdata), called on the firmware's task (not in the interrupt).
  set_int_handler: ffi('int mgos_gpio_set_int_handler(int,int,void(*)(int,userdata),userdata)'),
  // cb(pin, userdata) at once on the edge; further edges are ignored for debounce_ms.
  set_button_handler: ffi('int mgos_gpio_set_button_handler(int,int,int,int,void(*)(int, userdata), userdata)'),
};
