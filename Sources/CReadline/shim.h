// GNU readline for the REPL's line editing and history. readline.h uses FILE
// without including <stdio.h> itself, so the order of these includes matters.
//
// The functions below touch readline's global variables: Swift 6 refuses to read or write a
// C global `var` outside an actor. The REPL calls them only from the thread that reads lines.
#ifndef CAPSULE_CREADLINE_SHIM_H
#define CAPSULE_CREADLINE_SHIM_H

#include <stdio.h>
#include <readline/readline.h>
#include <readline/history.h>

/* Readline installs no signal handlers of its own: the REPL handles SIGINT itself (see
 * ReplInterrupts.swift). */
static inline void capsule_rl_setup(void) {
    rl_catch_signals = 0;
}

/* Ctrl-C at the prompt: show `^C` after the line typed so far, drop it, and leave the prompt
 * (callback mode) with the terminal restored; the next `rl_callback_handler_install` shows a
 * fresh prompt. */
static inline void capsule_rl_cancel_line(void) {
    rl_callback_sigcleanup();
    rl_free_line_state();
    rl_point = rl_end;
    rl_redisplay();
    fputs("^C", rl_outstream);
    rl_crlf();
    fflush(rl_outstream);
    rl_replace_line("", 0);
    rl_callback_handler_remove();
}

#endif
