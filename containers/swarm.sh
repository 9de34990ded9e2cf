#!/bin/sh
# The sample stack on a 3-node Docker Swarm on this one machine (docs/swarm.md):
#   swarm.sh up       three dockerds in network namespaces, a registry, the images, the stack;
#                     prints DOCKER_HOST=... and NGINX_URL=... on lines of their own
#   swarm.sh status   nodes and tasks
#   swarm.sh test     checks with figures (node loss, rolling update); brings the swarm up first
#                     and down after when it was not up; "SKIPPED: why" where no dockerd can run
#   swarm.sh down     removes everything up made
# The work is done by containers/swarm.py (standard library only, the host's python3).
set -eu
exec python3 "$(cd "$(dirname "$0")" && pwd)/swarm.py" "$@"
