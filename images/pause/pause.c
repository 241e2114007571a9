/*
 * kindling's pod sandbox process. It holds the pod's namespaces open and does nothing else:
 * it sleeps until told to stop, and as PID 1 of a shared PID namespace it reaps orphans so
 * zombies never pile up. Built by kindling-image with `gcc -static -Os -s`.
 */
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef PAUSE_VERSION
#define PAUSE_VERSION "dev"
#endif

static void stop(int sig) {
    (void)sig;
    _exit(0); /* the runtime asked us to go: that is success, not a crash */
}

static void reap(int sig) {
    (void)sig;
    /* one SIGCHLD may stand for several exited children, so drain them all */
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

static int on(int sig, void (*handler)(int), int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = handler;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    return sigaction(sig, &sa, NULL);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "-v") == 0) {
        printf("kindling pause %s\n", PAUSE_VERSION);
        return 0;
    }
    if (getpid() != 1) {
        /* still useful (tests run it directly), but reaping only matters as PID 1 */
        fprintf(stderr, "pause: warning: not running as PID 1\n");
    }
    if (on(SIGINT, stop, 0) || on(SIGTERM, stop, 0) ||
        on(SIGCHLD, reap, SA_NOCLDSTOP | SA_RESTART)) {
        perror("pause: sigaction");
        return 1;
    }
    for (;;) {
        pause();
    }
}
