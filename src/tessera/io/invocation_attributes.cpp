#include "tessera/io/invocation_attributes.hpp"

#include "tessera/io/hdf5.hpp"

namespace tessera {

void write_invocation(hid_t object, const Invocation& invocation) {
  h5::write_text_attribute(object, "command", invocation.command_line);
  h5::write_text_attribute(object, "host", invocation.host);
  if (!invocation.slurm_job_id.empty())
    h5::write_text_attribute(object, "slurm_job_id", invocation.slurm_job_id);
  if (!invocation.slurm_array_task_id.empty())
    h5::write_text_attribute(object, "slurm_array_task_id", invocation.slurm_array_task_id);
}

Invocation read_invocation(hid_t object) {
  auto text = [&](const char* name) {
    return h5::has_attribute(object, name) ? h5::read_text_attribute(object, name) : std::string();
  };
  Invocation invocation;
  invocation.command_line = text("command");
  invocation.host = text("host");
  invocation.slurm_job_id = text("slurm_job_id");
  invocation.slurm_array_task_id = text("slurm_array_task_id");
  return invocation;
}

} // namespace tessera
