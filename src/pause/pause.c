/* The pause container of an awsvpc task: it holds the task's network namespace that the task's containers
 * join, reaps zombies, and exits at once on SIGTERM/SIGINT. Linked statically so its image needs nothing else. */
#include <signal.h>
#include <stddef.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_term(int sig) {
  (void)sig;
  _exit(0);
}

static void on_child(int sig) {
  (void)sig;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
}

int main(void) {
  signal(SIGTERM, on_term);
  signal(SIGINT, on_term);
  signal(SIGCHLD, on_child);
  for (;;) {
    pause();
  }
}
