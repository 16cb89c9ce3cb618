"""The lark grammar of AWS IoT SQL (``SELECT ... FROM '<topic filter>' [WHERE ...]``).

Written from the AWS IoT SQL reference; parsed with lark's LALR parser. Keywords are
case-insensitive; ``statement`` is a whole rule, ``expr`` one substitution-template expression.
"""

GRAMMAR = r"""
statement: [set_clause] "SELECT"i select_list "FROM"i SQ_STRING [where_clause]

where_clause: "WHERE"i expr

// SET @a = expr, @b = expr (AWS IoT SQL reference, "SET clause"); "=" is checked in the builder.
set_clause: "SET"i assignment ("," assignment)*
assignment: VAR COMP_OP expr

select_list: "VALUE"i expr                    -> select_value
           | select_item ("," select_item)*   -> select_items

select_item: STAR                  -> star_item
           | STAR "AS"i alias      -> star_alias_item
           | expr                  -> expr_item
           | expr "AS"i alias      -> expr_alias_item

alias: NAME ("." NAME)*

// Precedence, loosest first: OR, AND, NOT, comparison, + -, * / %, unary -, member access.
?expr: expr "OR"i and_expr                    -> or_op
     | and_expr

?and_expr: and_expr "AND"i not_expr           -> and_op
         | not_expr

?not_expr: "NOT"i not_expr                    -> not_op
         | comparison

?comparison: sum COMP_OP sum                  -> compare
           | sum "IN"i sum                    -> in_op
           | sum

?sum: sum ADD_OP product                      -> arith
    | product

?product: product MUL_OP unary                -> arith
        | product STAR unary                  -> arith
        | unary

?unary: ADD_OP unary                          -> sign
      | postfix

?postfix: postfix "." NAME                    -> member
        | atom

?atom: NUMBER                                 -> number
     | SQ_STRING                              -> string
     | DQ_STRING                              -> string
     | "TRUE"i                                -> true
     | "FALSE"i                               -> false
     | "NULL"i                                -> null
     | NAME                                   -> field
     | VAR                                    -> variable
     | NAME "(" [arg ("," arg)*] ")"          -> call
     | "CAST"i "(" expr "AS"i NAME ")"        -> cast
     | "CASE"i expr when_clause+ [else_clause] "END"i -> case
     | "{" [pair ("," pair)*] "}"             -> object
     | "[" [expr ("," expr)*] "]"             -> array
     | "(" nested_select ")"
     | "(" expr ")"

nested_select: "SELECT"i select_list "FROM"i expr where_clause?

when_clause: "WHEN"i expr "THEN"i expr
else_clause: "ELSE"i expr

pair: (SQ_STRING | DQ_STRING) ":" expr

?arg: expr
    | STAR                                    -> star_arg

STAR: "*"
COMP_OP: "<>" | "<=" | ">=" | "=" | "<" | ">"
ADD_OP: "+" | "-"
MUL_OP: "/" | "%"
NUMBER: /\d+(\.\d+)?([eE][+-]?\d+)?/
SQ_STRING: /'(?:[^'\\]|\\.)*'/
DQ_STRING: /"(?:[^"\\]|\\.)*"/
NAME: /[A-Za-z_][A-Za-z0-9_]*/
VAR: /@[A-Za-z0-9_]+/

%ignore /\s+/
"""
