// GNU readline for the REPL's line editing, history and completion. readline.h uses FILE
// without including <stdio.h> itself, so the order of these includes matters.
//
// The functions below touch readline's global variables: Swift 6 refuses to read or write a
// C global `var` outside an actor. The REPL calls them only from the thread that reads lines.
#ifndef CAPSULE_CREADLINE_SHIM_H
#define CAPSULE_CREADLINE_SHIM_H

#include <stdio.h>
#include <readline/readline.h>
#include <readline/history.h>

/* Readline installs no signal handlers of its own (the REPL handles SIGINT itself, see
 * ReplInterrupts.swift), and Tab calls `complete`. Words for completion break at spaces and
 * operators but not at `.`, so `math.sq` reaches `complete` whole. */
static inline void capsule_rl_setup(rl_completion_func_t *complete) {
    rl_catch_signals = 0;
    rl_attempted_completion_function = complete;
    rl_basic_word_break_characters = " \t\n\"'`@$><=;|&{}()[],+-*/%!:^~?#";
}

/* The matches `generator` gives for `text`, with no space after a unique one, and no file-name
 * completion when it gives none. */
static inline char **capsule_rl_matches(const char *text, rl_compentry_func_t *generator) {
    rl_attempted_completion_over = 1;
    /* A completed name is usually followed by `(` or `.`, not a space. */
    rl_completion_append_character = '\0';
    return rl_completion_matches(text, generator);
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
