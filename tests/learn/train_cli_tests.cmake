# `tessera train` end to end on tests/learn/data/train_simulate.yaml (train.simulate: a hill tissue simulated
# into the run directory, then graph_ode fitted in window mode with checkpoints): outputs checked by
# check_train_run.py; a run stopped at its checkpoint and restarted gives the uninterrupted run's /params and
# /optimizer exactly (h5diff); L-BFGS with 2 groups on 2 ranks; wrong inputs exit 2 naming the key.
set(_simulate_deck ${_data}/train_simulate.yaml)
set(_check_run ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/check_train_run.py)
set(_np2 ${TESSERA_MPIEXEC} ${MPIEXEC_NUMPROC_FLAG} 2 ${TESSERA_MPIEXEC_FLAGS})

tessera_learn_expect(learn_train_simulate 0
                     "simulating the ground truth \\(hill\\).*mode window, rk4, adamw.*predicting \"no change\" scores train [0-9.e+-]+, validation [0-9.e+-]+ on the same windows.*iteration 4/4  train [0-9.e+-]+ \\([0-9.e+-]+ x no change\\)  validation [0-9.e+-]+ \\([0-9.e+-]+ x no change\\).*one-step validation MSE over 2 pair\\(s\\): model [0-9.e+-]+, no change [0-9.e+-]+, relaxation [0-9.e+-]+, ridge [0-9.e+-]+.*tessera train: done: 4 iterations"
                     ${_tessera} train ${_simulate_deck} -o ${_work}/simulate --overwrite)
set_tests_properties(learn_train_simulate PROPERTIES FIXTURES_SETUP learn_train_simulate)
add_test(NAME learn_train_simulate_outputs
         COMMAND ${_check_run} ${_work}/simulate --iterations 4 --checkpoint 4)
set_tests_properties(learn_train_simulate_outputs PROPERTIES FIXTURES_REQUIRED learn_train_simulate LABELS cli)

# Stopped after 2 iterations (its checkpoint), then --restart to 4.
add_test(NAME learn_train_restart_clean COMMAND ${CMAKE_COMMAND} -E rm -rf ${_work}/restart)
set_tests_properties(learn_train_restart_clean PROPERTIES FIXTURES_SETUP learn_restart_clean)
tessera_learn_expect(learn_train_restart_first 0 "done: 2 iterations"
                     ${_tessera} train ${_simulate_deck} -o ${_work}/restart -s train.iterations=2)
set_tests_properties(learn_train_restart_first PROPERTIES FIXTURES_REQUIRED learn_restart_clean
                                                          FIXTURES_SETUP learn_restart_first)
tessera_learn_expect(learn_train_restart 0 "restarting from .*checkpoint.h5 at iteration 2.*done: 4 iterations"
                     ${_tessera} train ${_simulate_deck} --restart ${_work}/restart)
set_tests_properties(learn_train_restart PROPERTIES FIXTURES_REQUIRED learn_restart_first
                                                    FIXTURES_SETUP learn_restart)
add_test(NAME learn_train_restart_equals_uninterrupted
         COMMAND h5diff ${_work}/simulate/model.h5 ${_work}/restart/model.h5 /params /params)
add_test(NAME learn_train_restart_optimizer_equal
         COMMAND h5diff ${_work}/simulate/model.h5 ${_work}/restart/model.h5 /optimizer /optimizer)
# ... checked after a refused second restart (nothing left to do), which must leave every output in place.
tessera_learn_expect(learn_train_restart_nothing_left 2 "checkpoint.h5 is at iteration 4, train.iterations is 4"
                     ${_tessera} train ${_simulate_deck} --restart ${_work}/restart)
set_tests_properties(learn_train_restart_nothing_left PROPERTIES FIXTURES_REQUIRED learn_restart
                                                                 FIXTURES_SETUP learn_restart_refused)
set_tests_properties(learn_train_restart_equals_uninterrupted learn_train_restart_optimizer_equal PROPERTIES
                     FIXTURES_REQUIRED "learn_restart;learn_restart_refused;learn_train_simulate" LABELS cli)
add_test(NAME learn_train_restart_outputs COMMAND ${_check_run} ${_work}/restart --iterations 4 --checkpoint 4)
set_tests_properties(learn_train_restart_outputs PROPERTIES FIXTURES_REQUIRED "learn_restart;learn_restart_refused"
                                                           LABELS cli)
# Damaged checkpoints (h5py edits of copies of the 4-iteration run's): every field is checked before a
# restart uses it, exit 2 naming the file and field, the copy untouched; the undamaged copy continues.
add_test(NAME learn_train_restart_bad_checkpoints
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/bad_checkpoints.py ${_tessera} ${_simulate_deck}
                 ${_work}/simulate ${_work}/bad_checkpoints)
set_tests_properties(learn_train_restart_bad_checkpoints PROPERTIES FIXTURES_REQUIRED learn_train_simulate
                     ENVIRONMENT "${TESSERA_TEST_ENV}" LABELS cli TIMEOUT 300)
tessera_learn_expect(learn_train_restart_missing 2 "no checkpoint.h5 there"
                     ${_tessera} train ${_simulate_deck} --restart ${_work}/no_such_run)

# L-BFGS (TAO) on 2 ranks in 2 data-parallel groups.
tessera_learn_expect(learn_train_lbfgs_groups_np2 0 "lbfgs, 2 rank\\(s\\) in 2 group\\(s\\).*done: [1-9][0-9]* iterations.*TAO"
                     ${_np2} ${_tessera} train ${_simulate_deck} -o ${_work}/lbfgs --overwrite
                     -s train.optimizer=lbfgs -s train.checkpoint_every=0 -s parallel.groups=2)
set_tests_properties(learn_train_lbfgs_groups_np2 PROPERTIES PROCESSORS 2)

# Wrong inputs: exit 2 naming the key.
tessera_learn_expect(learn_train_groups_do_not_divide 2 "parallel.groups.*3 group\\(s\\) do not divide the 2 rank\\(s\\)"
                     ${_np2} ${_tessera} train ${_simulate_deck} -o ${_work}/bad_groups --overwrite -s parallel.groups=3)
set_tests_properties(learn_train_groups_do_not_divide PROPERTIES PROCESSORS 2)
tessera_learn_expect(learn_train_simulate_needs_hill 2 "grn.model.*train.simulate runs the deck's ground-truth simulation"
                     ${_tessera} train ${_simulate_deck} -o ${_work}/bad_model --overwrite -s grn.model=graph_ode)
# train.l1 with lbfgs: minimised exactly on the split weights (TAO's bound-constrained blmvm; the exact zeros
# are test_learn_trainer's LbfgsL1EndsWithExactZerosOnTheSparseTensorsOnly); the deck is accepted and trains.
tessera_learn_expect(learn_train_lbfgs_l1 0 "lbfgs, 1 rank.*done: [1-9][0-9]* iterations.*TAO"
                     ${_tessera} train ${_simulate_deck} -o ${_work}/lbfgs_l1 --overwrite -s train.optimizer=lbfgs
                     -s train.checkpoint_every=0 -s train.l1=1e-3 -s train.iterations=5)

# Bad data (damaged copies of the simulated dataset; a model file of another architecture): exit 2 naming
# the file and the problem.
add_test(NAME learn_train_bad_datasets
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/bad_datasets.py ${_tessera} ${_simulate_deck}
                 ${_work}/simulate/dataset.h5 ${_work}/simulate/model.h5 ${_work}/bad_datasets)
set_tests_properties(learn_train_bad_datasets PROPERTIES FIXTURES_REQUIRED learn_train_simulate
                                                         ENVIRONMENT "${TESSERA_TEST_ENV}" LABELS cli TIMEOUT 300)
# train.prior: the table's unknown gene is named with file, line and column.
tessera_learn_expect(learn_train_prior_unknown_gene 2 "bad_prior.tsv:3: column 'target': unknown gene 'Lrp6'"
                     ${_tessera} train ${_simulate_deck} -o ${_work}/bad_prior --overwrite
                     -s train.prior=${_data}/bad_prior.tsv)
# train.integrator: cvode (CVODES adjoint) on 2 ranks: a short run, and the central-difference diagnostic.
tessera_learn_expect(learn_train_cvode_np2 0 "mode window, cvode, adamw.*done: 2 iterations"
                     ${_np2} ${_tessera} train ${_simulate_deck} -o ${_work}/cvode --overwrite
                     -s train.integrator=cvode -s train.iterations=2 -s time.method=adams)
set_tests_properties(learn_train_cvode_np2 PROPERTIES PROCESSORS 2)
tessera_learn_expect(learn_train_cvode_check_gradient 0 "worst relative error of the gradient against central differences: [0-9.e-]+"
                     ${_tessera} train ${_simulate_deck} -o ${_work}/cvode_check --overwrite --check-gradient
                     -s train.integrator=cvode -s time.rtol=1e-10 -s time.atol=1e-12 -s time.method=adams)

# Early stopping (validation patience), reduce-on-plateau and train.keep_best through the CLI: where it stops,
# the lr column and model.h5 holding the best-validation parameters (check_keep_best.py).
add_test(NAME learn_train_keep_best_patience
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/check_keep_best.py ${_tessera} ${_simulate_deck}
                 ${_work})
set_tests_properties(learn_train_keep_best_patience PROPERTIES ENVIRONMENT "${TESSERA_TEST_ENV}" LABELS cli
                                                               TIMEOUT 300)
# Schedule and stopping keys a user can get wrong: exit 2 naming the key.
tessera_learn_expect(learn_train_lbfgs_no_schedule 2 "train.lr_schedule.*L-BFGS takes its steps by line search"
                     ${_tessera} train ${_simulate_deck} -o ${_work}/bad_schedule --overwrite -s train.optimizer=lbfgs
                     -s train.checkpoint_every=0 -s train.lr_schedule=cosine)
tessera_learn_expect(learn_train_patience_needs_validation 2 "train.patience.*set train.val_fraction > 0"
                     ${_tessera} train ${_simulate_deck} -o ${_work}/bad_patience --overwrite -s train.val_fraction=0
                     -s train.patience=3)
tessera_learn_expect(learn_train_lr_min_below_lr 2 "train.lr_min.*must be less than train.lr \\(0.01\\)"
                     ${_tessera} train ${_simulate_deck} -o ${_work}/bad_lr_min --overwrite -s train.lr_schedule=cosine
                     -s train.lr_min=0.1)
# The stopping rules and keep_best apply to every family: sigmoid fitted by L-BFGS stops on validation
# patience and keeps its best iteration. From `init: random` (whose validation loss stalls within 30
# iterations here); from the ridge warm start at the data's operating point it still improves at iteration 30.
tessera_learn_expect(learn_train_sigmoid_lbfgs_patience 0
                     "stopped at iteration [0-9]+: validation loss did not improve for 3 iterations.*keeping the parameters of iteration [0-9]+ \\(train.keep_best\\).*\\(stopped early\\)"
                     ${_tessera} train ${_simulate_deck} -o ${_work}/sigmoid_patience --overwrite -s train.model=sigmoid
                     -s train.optimizer=lbfgs -s train.checkpoint_every=0 -s train.iterations=30 -s train.keep_best=true
                     -s train.patience=3 -s grn.sigmoid.init=random)

# Real signals to a 2-rank `mpirun tessera train` (issue 10 item 2): SIGUSR1/SIGTERM to one rank, SIGUSR1 and
# SIGTERM to mpirun, --walltime; exit 75, checkpoint.h5, the log's stop line, the stop at the iteration the
# log says the signal was received in (issue 11), and --restart equal bit for bit to an uninterrupted run;
# under lbfgs exit 1 and how to continue (signal_stop.py).
add_test(NAME learn_train_signal_stop_np2
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/signal_stop.py ${_tessera} ${_simulate_deck}
                 ${_work}/signal_stop ${TESSERA_MPIEXEC} ${TESSERA_MPIEXEC_FLAGS})
set_tests_properties(learn_train_signal_stop_np2 PROPERTIES ENVIRONMENT "${TESSERA_TEST_ENV}" PROCESSORS 2
                                                           LABELS "cli;mpi" TIMEOUT 900)
