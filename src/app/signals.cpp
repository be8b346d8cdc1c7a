#include "signals.hpp"

#include <csignal>
#include <pthread.h>

namespace macvmorx::app {
namespace {

sigset_t handled_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR2); // a daemon that stepped down asks to be made again
    return set;
}

} // namespace

void block_signals() {
    const sigset_t set = handled_signals();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int wait_for_signal() {
    const sigset_t set = handled_signals();
    int signal_number = 0;
    while (sigwait(&set, &signal_number) != 0) {
    }
    return signal_number;
}

} // namespace macvmorx::app
