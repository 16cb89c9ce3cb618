"""Every mJS runtime error an exercise check can meet gets specific Norwegian advice at the cell's line.
The error texts are the board's (and real mJS's, see shared/mjs-oracle) own words."""

from __future__ import annotations

import pytest

from kurs.exercises.js_advice import explain

SOURCE = "\n".join([
    "load('api_gpio.js');",                 # init.js 1 = cell line 2 (the %%mjs line is 1)
    "let led = 2;",
    "MQTT.sub('state', function(conn, t, msg) {",
    "  GPIO.write(led, msg.on);",           # init.js 4
    "  MQTT.pub('state', state, 1);",       # init.js 5
    "  state.btnCount++;",                  # init.js 6
    "  print('Antall ' + state.btnCount);",  # init.js 7
    "}, null);",
])


@pytest.mark.parametrize(("error", "says", "fix"), [
    ("MJS callback error: actual arg #1 is not an int (the type idx is: undefined) (init.js:4)",
     ["Linje 5 i cellen (GPIO.write(led, msg.on);)", "verdi nr. 2", "«msg.on» finnes ikke"], "JSON.parse(msg)"),
    ("MJS callback error: actual arg #1 is not a ptr (init.js:5)",
     ["Linje 6 i cellen", "verdi nr. 2 til MQTT.pub er ikke tekst"], "JSON.stringify(state)"),
    ("MJS callback error: invalid operand for ++ (init.js:6)", ["Linje 7 i cellen", "++"],
     "state.btnCount = state.btnCount + 1;"),
    ("MJS callback error: implicit type conversion is prohibited (init.js:7)",
     ["Linje 8 i cellen", "tekst og tall"], "print('Antall:', state.btnCount)"),
    ("MJS error: [MQTT] is not defined (init.js:3)", ["Linje 4 i cellen", "«MQTT» finnes ikke"],
     "load('api_mqtt.js')"),
    ("MJS error: [ledd] is not defined (init.js:2)", ["«ledd» finnes ikke"], "stavemåten"),
    ("MJS error: calling non-callable (init.js:3)", ["noe som ikke er en funksjon"], "MQTT.pub, ikke MQTT.Pub"),
    ("MJS callback error: invalid JSON string (init.js:4)", ["JSON.parse fikk tekst som ikke er JSON"], "JSON"),
    ('MJS error: failed to exec file "api_gpi.js": failed to read file "api_gpi.js" (init.js:1)',
     ["load('api_gpi.js') fant ikke fila"], "api_gpio.js"),
    ("MJS error: failed to call FFIed function: actual arg #0 is not an int (the type idx is: string) (init.js:4)",
     ["verdi nr. 1 er tekst"], "uten anførselstegn"),
    ("MJS error: actual arg #2 is not a function, but undefined (init.js:3)", ["verdi nr. 3 skal være en funksjon"],
     "function(conn, topic, msg)"),
    ("MJS error: got 2 actuals, but function takes 3 args (init.js:3)", ["fikk 2 verdier, men tar 3"], "null"),
    # mJS's OP_GET on text, a number or a function: name the read, and the usual cause (msg is text).
    ("MJS error: type error (init.js:7)", ["«state.btnCount» kan ikke leses", "msg.on"], "JSON.parse(msg)"),
    ("MJS callback error: type error (init.js:4)", ["msg er tekst", "«msg.on»"], "let state = JSON.parse(msg);"),
    ("MJS error: type error (init.js:2)", ["kan ikke bruke denne verdien"], "mJS"),
    ("koden brukte for lang tid uten å gi fra seg kontrollen (en evig løkke?)", ["evig løkke"], "Timer.set"),
])
def test_each_runtime_error_gets_norwegian_advice_at_the_cells_line(error, says, fix):
    advice = explain(error, SOURCE)
    for phrase in says:
        assert phrase in advice.text, advice.text
    assert fix in advice.fix, advice.fix
    assert "init.js" not in advice.text + advice.fix
