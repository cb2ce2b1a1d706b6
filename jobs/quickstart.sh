#!/usr/bin/env bash
# The main job: builds tessera if needed and runs inputs/quickstart.yaml on 2 ranks into runs/quickstart/.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
"$root/tools/build.sh"
source "$root/tools/mpi-env.sh"
out=runs/quickstart
mpirun -np 2 build/bin/tessera run inputs/quickstart.yaml -o "$out" --overwrite "$@"
echo
echo "Produced in $out/:"
ls -l "$out"
cat <<MSG

  tessera.h5          every output step: /steps/<n>/{id,type,position,radius,genes,cycle}   (h5dump -H $out/tessera.h5)
  tessera.xmf         open this in ParaView (File > Open, pick "XDMF Reader"); colour by a gene or "type",
                      use the "Point Gaussian" representation and press Play to step through time
  summary.csv         per output step: cell counts and mean/sd of every gene per cell type
  tessera.log         the run's log; resolved_deck.yaml: the deck with every default filled in
MSG
