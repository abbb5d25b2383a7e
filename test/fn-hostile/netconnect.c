/* Connects to a listener on the host's loopback (port in argv[1]) and to a public
 * address; also tries raw and packet sockets. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
static void try_connect(const char *ip, int port) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
  inet_pton(AF_INET, ip, &a.sin_addr);
  if (s >= 0 && connect(s, (struct sockaddr *)&a, sizeof(a)) == 0) {
    fprintf(stderr, "ESCAPED: connected to %s:%d\n", ip, port);
    const char msg[] = "hello from the sandbox\n";
    ssize_t w = write(s, msg, sizeof(msg) - 1);
    (void)w;
  } else {
    fprintf(stderr, "connect %s:%d: %s\n", ip, port, strerror(errno));
  }
  if (s >= 0)
    close(s);
}
int main(int argc, char **argv) {
  int port = argc > 1 ? (int)strtol(argv[1], NULL, 10) : 80;
  try_connect("127.0.0.1", port);
  try_connect("8.8.8.8", 53);
  if (socket(AF_INET, SOCK_RAW, IPPROTO_ICMP) >= 0)
    fprintf(stderr, "ESCAPED: raw socket\n");
  if (socket(AF_PACKET, SOCK_RAW, 0) >= 0)
    fprintf(stderr, "ESCAPED: packet socket\n");
  return 1;
}
