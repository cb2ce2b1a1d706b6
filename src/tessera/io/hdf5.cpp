#include "tessera/io/hdf5.hpp"

#include "tessera/parallel/mpi.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>

namespace tessera::h5 {

namespace {

herr_t append_error(unsigned, const H5E_error2_t* error, void* data) {
  std::string entry = error->func_name ? error->func_name : "?";
  entry += ": ";
  entry += error->desc ? error->desc : "";
  char minor[256] = "";
  if (H5Eget_msg(error->min_num, nullptr, minor, sizeof minor) > 0) {
    entry += " (";
    entry += minor;
    entry += ")";
  }
  static_cast<std::vector<std::string>*>(data)->push_back(std::move(entry));
  return 0;
}

// Must run before any other HDF5 API call, since each API call clears the stack on entry. Deep stacks are cut
// to the API call and the innermost causes: the middle rarely tells a user anything.
std::string error_stack() {
  std::vector<std::string> entries;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, append_error, &entries);
  H5Eclear2(H5E_DEFAULT);
  if (entries.empty()) return "no message on the HDF5 error stack";
  if (entries.size() > 4) {
    entries.erase(entries.begin() + 1, entries.end() - 2);
    entries.insert(entries.begin() + 1, "...");
  }
  std::string text;
  for (const std::string& entry : entries)
    text += (text.empty() ? "" : "; ") + entry;
  return text;
}

// HDF5 changed the names of these two calls in 1.12; this adapter is where the guard lives.
htri_t is_hdf5_file(const std::string& path) {
#if H5_VERSION_GE(1, 12, 0)
  return H5Fis_accessible(path.c_str(), H5P_DEFAULT);
#else
  return H5Fis_hdf5(path.c_str());
#endif
}

herr_t reclaim(hid_t type, hid_t space, void* buffer) {
#if H5_VERSION_GE(1, 12, 0)
  return H5Treclaim(type, space, H5P_DEFAULT, buffer);
#else
  return H5Dvlen_reclaim(type, space, H5P_DEFAULT, buffer);
#endif
}

// A new file in the 1.8 format: groups with many steps index their links, and any HDF5 since 1.8 can read it.
Handle file_access(MPI_Comm comm, bool parallel) {
  Handle fapl(check_id(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate(file access)"));
  check(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_V18, H5F_LIBVER_V18), "H5Pset_libver_bounds");
  if (parallel) {
    check(H5Pset_fapl_mpio(fapl.get(), comm, MPI_INFO_NULL), "H5Pset_fapl_mpio");
    // The metadata cache is then flushed by one collective MPI-IO write instead of many small ones from rank
    // 0.
    check(H5Pset_coll_metadata_write(fapl.get(), true), "H5Pset_coll_metadata_write");
  }
  return fapl;
}

void require_readable_hdf5(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw input_error(path + ": no such file");
  if (std::filesystem::is_directory(path, ec)) throw input_error(path + ": is a directory, not an HDF5 file");
  const htri_t is_hdf5 = is_hdf5_file(path);
  if (is_hdf5 < 0) throw input_error(path + ": cannot read file: " + error_stack());
  if (is_hdf5 == 0) throw input_error(path + ": not an HDF5 file");
}

void require_absent(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec))
    throw input_error(path + ": already exists; tessera does not overwrite output files");
  // A missing or unusable folder is the user's to fix: say so instead of quoting HDF5's error stack.
  const std::filesystem::path folder = std::filesystem::path(path).parent_path();
  if (folder.empty()) return;
  if (!std::filesystem::exists(folder, ec))
    throw input_error(path + ": cannot create: folder '" + folder.string() + "' does not exist");
  if (!std::filesystem::is_directory(folder, ec))
    throw input_error(path + ": cannot create: '" + folder.string() + "' is not a folder");
}

bool is_mpio(hid_t object) {
  Handle file(check_id(H5Iget_file_id(object), "H5Iget_file_id"));
  Handle fapl(check_id(H5Fget_access_plist(file.get()), "H5Fget_access_plist"));
  return check_id(H5Pget_driver(fapl.get()), "H5Pget_driver") == H5FD_MPIO;
}

// Rank within the communicator a parallel file was opened on; 0 for a serial file.
int file_rank(hid_t object) {
  if (!is_mpio(object)) return 0;
  Handle file(check_id(H5Iget_file_id(object), "H5Iget_file_id"));
  Handle fapl(check_id(H5Fget_access_plist(file.get()), "H5Fget_access_plist"));
  MPI_Comm comm = MPI_COMM_NULL;
  MPI_Info info = MPI_INFO_NULL;
  check(H5Pget_fapl_mpio(fapl.get(), &comm, &info), "H5Pget_fapl_mpio");
  const int rank = mpi::rank(comm);
  MPI_Comm_free(&comm); // H5Pget_fapl_mpio hands back duplicates the caller frees
  if (info != MPI_INFO_NULL) MPI_Info_free(&info);
  return rank;
}

// Collective transfer in a parallel file lets MPI-IO merge all ranks' rows into large aggregated writes.
Handle transfer_for(hid_t object) {
  Handle dxpl(check_id(H5Pcreate(H5P_DATASET_XFER), "H5Pcreate(dataset transfer)"));
  if (is_mpio(object)) check(H5Pset_dxpl_mpio(dxpl.get(), H5FD_MPIO_COLLECTIVE), "H5Pset_dxpl_mpio");
  return dxpl;
}

Handle variable_text_type() {
  Handle type(check_id(H5Tcopy(H5T_C_S1), "H5Tcopy"));
  check(H5Tset_size(type.get(), H5T_VARIABLE), "H5Tset_size");
  check(H5Tset_cset(type.get(), H5T_CSET_UTF8), "H5Tset_cset");
  return type;
}

// Fixed-length strings end at the first NUL, or are padded with spaces (Fortran writers); HDF5 says which.
std::string trim_fixed(const char* data, std::size_t size, hid_t type) {
  std::size_t n = 0;
  while (n < size && data[n] != '\0')
    ++n;
  if (H5Tget_strpad(type) == H5T_STR_SPACEPAD) {
    while (n > 0 && data[n - 1] == ' ')
      --n;
  }
  return std::string(data, n);
}

template <class T>
struct Native;
template <>
struct Native<std::uint64_t> {
  static hid_t memory() { return H5T_NATIVE_UINT64; }
  static hid_t file() { return H5T_STD_U64LE; }
  static constexpr H5T_class_t number_class = H5T_INTEGER;
};
template <>
struct Native<std::int64_t> {
  static hid_t memory() { return H5T_NATIVE_INT64; }
  static hid_t file() { return H5T_STD_I64LE; }
  static constexpr H5T_class_t number_class = H5T_INTEGER;
};
template <>
struct Native<std::int32_t> {
  static hid_t memory() { return H5T_NATIVE_INT32; }
  static hid_t file() { return H5T_STD_I32LE; }
  static constexpr H5T_class_t number_class = H5T_INTEGER;
};
template <>
struct Native<double> {
  static hid_t memory() { return H5T_NATIVE_DOUBLE; }
  static hid_t file() { return H5T_IEEE_F64LE; }
  static constexpr H5T_class_t number_class = H5T_FLOAT;
};

// Selects rows [offset, offset + count) of a [rows] or [rows][columns] space; nothing when that is empty, so
// a rank without rows can still take part in a collective transfer.
void select_rows(hid_t space, int rank, std::int64_t offset, std::int64_t count, std::int64_t columns) {
  if (count == 0 || (rank == 2 && columns == 0)) {
    check(H5Sselect_none(space), "H5Sselect_none");
    return;
  }
  const hsize_t start[2] = {static_cast<hsize_t>(offset), 0};
  const hsize_t extent[2] = {static_cast<hsize_t>(count), static_cast<hsize_t>(columns)};
  check(H5Sselect_hyperslab(space, H5S_SELECT_SET, start, nullptr, extent, nullptr), "H5Sselect_hyperslab");
}

Handle memory_space(hid_t file_space, int rank, std::int64_t count, std::int64_t columns) {
  if (count == 0 || (rank == 2 && columns == 0)) {
    Handle space(check_id(H5Scopy(file_space), "H5Scopy"));
    check(H5Sselect_none(space.get()), "H5Sselect_none");
    return space;
  }
  const hsize_t extent[2] = {static_cast<hsize_t>(count), static_cast<hsize_t>(columns)};
  return Handle(check_id(H5Screate_simple(rank, extent, nullptr), "H5Screate_simple"));
}

Handle open_dataset(hid_t parent, const std::string& name) {
  if (!exists(parent, name)) throw input_error(describe(parent) + ": no dataset '" + name + "'");
  return Handle(check_id(H5Dopen2(parent, name.c_str(), H5P_DEFAULT), ("H5Dopen2(" + name + ")").c_str()));
}

Handle open_attribute(hid_t object, const std::string& name) {
  if (!has_attribute(object, name)) throw input_error(describe(object) + ": no attribute '" + name + "'");
  return Handle(check_id(H5Aopen(object, name.c_str(), H5P_DEFAULT), ("H5Aopen(" + name + ")").c_str()));
}

Handle create_attribute(hid_t object, const std::string& name, hid_t type) {
  if (has_attribute(object, name))
    check(H5Adelete(object, name.c_str()), ("H5Adelete(" + name + ")").c_str());
  Handle space(check_id(H5Screate(H5S_SCALAR), "H5Screate"));
  return Handle(check_id(H5Acreate2(object, name.c_str(), type, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                         ("H5Acreate2(" + name + ")").c_str()));
}

// Numbers are stored as integers or as floats; reading one as the other would silently change ids or values.
void require_class(hid_t object, const std::string& name, hid_t type, H5T_class_t wanted, const char* what) {
  const H5T_class_t found = H5Tget_class(type);
  if (found != wanted) throw input_error(describe(object) + ": '" + name + "' is not " + what);
}

template <class T>
void write_rows_impl(hid_t parent, const std::string& name, const T* data, Rows rows, int rank,
                     std::int64_t columns) {
  if (rows.offset < 0 || rows.count < 0 || rows.offset + rows.count > rows.total || columns < 0)
    throw runtime_error("h5::write_rows(" + name + "): rows [" + std::to_string(rows.offset) + ", " +
                        std::to_string(rows.offset + rows.count) + ") do not fit in " +
                        std::to_string(rows.total) + " rows");
  const bool empty = rows.count == 0 || (rank == 2 && columns == 0);
  if (!empty && data == nullptr)
    throw runtime_error("h5::write_rows(" + name + "): no data for non-empty rows");
  const hsize_t extent[2] = {static_cast<hsize_t>(rows.total), static_cast<hsize_t>(columns)};
  Handle space(check_id(H5Screate_simple(rank, extent, nullptr), "H5Screate_simple"));
  Handle dataset(check_id(
      H5Dcreate2(parent, name.c_str(), Native<T>::file(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
      ("H5Dcreate2(" + name + ")").c_str()));
  // A dataset without elements has no storage, and HDF5 1.10 fails a collective write to it even when nothing
  // is selected; `total` and `columns` are the same on every rank, so all skip it together.
  if (rows.total == 0 || (rank == 2 && columns == 0)) return;
  select_rows(space.get(), rank, rows.offset, rows.count, columns);
  Handle memory = memory_space(space.get(), rank, rows.count, columns);
  Handle transfer = transfer_for(parent);
  const T placeholder{}; // HDF5 rejects a null buffer even when nothing is selected
  check(H5Dwrite(dataset.get(), Native<T>::memory(), memory.get(), space.get(), transfer.get(),
                 empty ? &placeholder : data),
        ("H5Dwrite(" + name + ")").c_str());
}

} // namespace

void silence_errors() {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
}

void check(herr_t rc, const char* call) {
  if (rc >= 0) return;
  throw runtime_error(std::string(call) + " failed: " + error_stack());
}

hid_t check_id(hid_t id, const char* call) {
  if (id >= 0) return id;
  throw runtime_error(std::string(call) + " failed: " + error_stack());
}

// ---- Handle
// -------------------------------------------------------------------------------------------------

Handle::~Handle() {
  reset();
}

Handle& Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    reset();
    id_ = other.id_;
    other.id_ = H5I_INVALID_HID;
  }
  return *this;
}

void Handle::reset() {
  // Nothing useful can be done with a failed release here; a File's close() reports it instead.
  if (id_ >= 0 && H5Iis_valid(id_) > 0) H5Idec_ref(id_);
  id_ = H5I_INVALID_HID;
}

hid_t Handle::release() {
  const hid_t id = id_;
  id_ = H5I_INVALID_HID;
  return id;
}

// ---- File
// ---------------------------------------------------------------------------------------------------

File File::create_parallel(MPI_Comm comm, const std::string& path) {
  silence_errors();
  // Checked on rank 0 alone, so every rank gets the same answer even on a file system with stale caches.
  mpi::agree(comm, [&] {
    if (mpi::rank(comm) == 0) require_absent(path);
  });
  Handle fapl = file_access(comm, true);
  Handle file;
  mpi::agree(comm, [&] {
    file = Handle(H5Fcreate(path.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, fapl.get()));
    if (!file.valid()) throw input_error(path + ": cannot create HDF5 file: " + error_stack());
  });
  return File(std::move(file), path, true);
}

File File::create(const std::string& path) {
  silence_errors();
  require_absent(path);
  Handle fapl = file_access(MPI_COMM_NULL, false);
  Handle file(H5Fcreate(path.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, fapl.get()));
  if (!file.valid()) throw input_error(path + ": cannot create HDF5 file: " + error_stack());
  return File(std::move(file), path, false);
}

File File::open_read(const std::string& path) {
  silence_errors();
  require_readable_hdf5(path);
  Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  if (!file.valid()) throw input_error(path + ": cannot open HDF5 file: " + error_stack());
  return File(std::move(file), path, false);
}

File File::open_append(const std::string& path) {
  silence_errors();
  require_readable_hdf5(path);
  Handle file(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT));
  if (!file.valid()) throw runtime_error(path + ": cannot open HDF5 file for writing: " + error_stack());
  return File(std::move(file), path, false);
}

File File::open_read_parallel(MPI_Comm comm, const std::string& path) {
  silence_errors();
  mpi::agree(comm, [&] {
    if (mpi::rank(comm) == 0) require_readable_hdf5(path);
  });
  Handle fapl(check_id(H5Pcreate(H5P_FILE_ACCESS), "H5Pcreate(file access)"));
  check(H5Pset_fapl_mpio(fapl.get(), comm, MPI_INFO_NULL), "H5Pset_fapl_mpio");
  Handle file;
  mpi::agree(comm, [&] {
    file = Handle(H5Fopen(path.c_str(), H5F_ACC_RDONLY, fapl.get()));
    if (!file.valid()) throw input_error(path + ": cannot open HDF5 file: " + error_stack());
  });
  return File(std::move(file), path, true);
}

void File::flush() {
  if (!file_.valid()) throw runtime_error(path_ + ": flush of a closed HDF5 file");
  check(H5Fflush(file_.get(), H5F_SCOPE_GLOBAL), ("H5Fflush(" + path_ + ")").c_str());
}

void File::close() {
  if (!file_.valid()) return;
  check(H5Fclose(file_.release()), ("H5Fclose(" + path_ + ")").c_str());
}

std::string describe(hid_t object) {
  std::string file = "?";
  std::string name;
  const ssize_t file_length = H5Fget_name(object, nullptr, 0);
  if (file_length > 0) {
    std::vector<char> buffer(static_cast<std::size_t>(file_length) + 1);
    H5Fget_name(object, buffer.data(), buffer.size());
    file = buffer.data();
  }
  const ssize_t name_length = H5Iget_name(object, nullptr, 0);
  if (name_length > 0) {
    std::vector<char> buffer(static_cast<std::size_t>(name_length) + 1);
    H5Iget_name(object, buffer.data(), buffer.size());
    name = buffer.data();
  }
  H5Eclear2(H5E_DEFAULT);
  return name.empty() ? file : file + ":" + name;
}

// ---- Groups
// -------------------------------------------------------------------------------------------------

Handle create_group(hid_t parent, const std::string& name) {
  return Handle(check_id(H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                         ("H5Gcreate2(" + name + ")").c_str()));
}

Handle create_ordered_group(hid_t parent, const std::string& name) {
  Handle gcpl(check_id(H5Pcreate(H5P_GROUP_CREATE), "H5Pcreate(group create)"));
  check(H5Pset_link_creation_order(gcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED),
        "H5Pset_link_creation_order");
  return Handle(check_id(H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT),
                         ("H5Gcreate2(" + name + ")").c_str()));
}

Handle open_group(hid_t parent, const std::string& name) {
  return Handle(check_id(H5Gopen2(parent, name.c_str(), H5P_DEFAULT), ("H5Gopen2(" + name + ")").c_str()));
}

bool exists(hid_t parent, const std::string& path) {
  // H5Lexists fails, rather than answering false, when an intermediate group is missing.
  std::string prefix;
  std::size_t begin = 0;
  while (begin <= path.size()) {
    const std::size_t end = std::min(path.find('/', begin), path.size());
    const std::string part = path.substr(begin, end - begin);
    if (!part.empty()) {
      prefix += (prefix.empty() ? "" : "/") + part;
      const htri_t found = H5Lexists(parent, prefix.c_str(), H5P_DEFAULT);
      check(found, ("H5Lexists(" + prefix + ")").c_str());
      if (found == 0) return false;
    }
    begin = end + 1;
  }
  return !prefix.empty();
}

std::vector<std::string> children(hid_t group) {
  H5G_info_t info;
  check(H5Gget_info(group, &info), "H5Gget_info");
  std::vector<std::string> names;
  names.reserve(info.nlinks);
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t length =
        H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    check(static_cast<herr_t>(length < 0 ? -1 : 0), "H5Lget_name_by_idx");
    std::vector<char> buffer(static_cast<std::size_t>(length) + 1);
    check(static_cast<herr_t>(H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, buffer.data(),
                                                 buffer.size(), H5P_DEFAULT) < 0
                                  ? -1
                                  : 0),
          "H5Lget_name_by_idx");
    names.emplace_back(buffer.data());
  }
  return names;
}

Handle open_object(hid_t parent, const std::string& name) {
  if (!exists(parent, name)) throw input_error(describe(parent) + ": no object '" + name + "'");
  return Handle(check_id(H5Oopen(parent, name.c_str(), H5P_DEFAULT), ("H5Oopen(" + name + ")").c_str()));
}

bool is_group(hid_t object) {
  return H5Iget_type(object) == H5I_GROUP;
}

// ---- Attributes
// ---------------------------------------------------------------------------------------------

bool has_attribute(hid_t object, const std::string& name) {
  const htri_t found = H5Aexists(object, name.c_str());
  check(found, ("H5Aexists(" + name + ")").c_str());
  return found > 0;
}

void write_text_attribute(hid_t object, const std::string& name, const std::string& value) {
  Handle type = variable_text_type();
  Handle attribute = create_attribute(object, name, type.get());
  const char* text = value.c_str();
  check(H5Awrite(attribute.get(), type.get(), &text), ("H5Awrite(" + name + ")").c_str());
}

void write_int_attribute(hid_t object, const std::string& name, std::int64_t value) {
  Handle attribute = create_attribute(object, name, H5T_STD_I64LE);
  check(H5Awrite(attribute.get(), H5T_NATIVE_INT64, &value), ("H5Awrite(" + name + ")").c_str());
}

void write_real_attribute(hid_t object, const std::string& name, double value) {
  Handle attribute = create_attribute(object, name, H5T_IEEE_F64LE);
  check(H5Awrite(attribute.get(), H5T_NATIVE_DOUBLE, &value), ("H5Awrite(" + name + ")").c_str());
}

void write_bool_attribute(hid_t object, const std::string& name, bool value) {
  Handle type(check_id(H5Tenum_create(H5T_NATIVE_INT8), "H5Tenum_create"));
  const std::int8_t no = 0, yes = 1;
  check(H5Tenum_insert(type.get(), "FALSE", &no), "H5Tenum_insert");
  check(H5Tenum_insert(type.get(), "TRUE", &yes), "H5Tenum_insert");
  Handle attribute = create_attribute(object, name, type.get());
  const std::int8_t stored = value ? yes : no;
  check(H5Awrite(attribute.get(), type.get(), &stored), ("H5Awrite(" + name + ")").c_str());
}

void write_text_array_attribute(hid_t object, const std::string& name,
                                const std::vector<std::string>& values) {
  Handle type = variable_text_type();
  if (has_attribute(object, name))
    check(H5Adelete(object, name.c_str()), ("H5Adelete(" + name + ")").c_str());
  const hsize_t extent[1] = {values.size()};
  Handle space(check_id(H5Screate_simple(1, extent, nullptr), "H5Screate_simple"));
  Handle attribute(
      check_id(H5Acreate2(object, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
               ("H5Acreate2(" + name + ")").c_str()));
  if (values.empty()) return;
  std::vector<const char*> pointers;
  for (const std::string& value : values)
    pointers.push_back(value.c_str());
  check(H5Awrite(attribute.get(), type.get(), pointers.data()), ("H5Awrite(" + name + ")").c_str());
}

std::string read_text_attribute(hid_t object, const std::string& name) {
  Handle attribute = open_attribute(object, name);
  Handle type(check_id(H5Aget_type(attribute.get()), "H5Aget_type"));
  require_class(object, name, type.get(), H5T_STRING, "text");
  Handle space(check_id(H5Aget_space(attribute.get()), "H5Aget_space"));
  if (H5Sget_simple_extent_npoints(space.get()) != 1)
    throw input_error(describe(object) + ": attribute '" + name + "' is not a single string");
  const htri_t variable = H5Tis_variable_str(type.get());
  check(variable, "H5Tis_variable_str");
  if (variable > 0) {
    Handle memory = variable_text_type();
    char* text = nullptr;
    check(H5Aread(attribute.get(), memory.get(), &text), ("H5Aread(" + name + ")").c_str());
    std::string value = text ? text : "";
    check(reclaim(memory.get(), space.get(), &text), "vlen reclaim");
    return value;
  }
  const std::size_t size = H5Tget_size(type.get());
  std::vector<char> buffer(size + 1, '\0');
  check(H5Aread(attribute.get(), type.get(), buffer.data()), ("H5Aread(" + name + ")").c_str());
  return trim_fixed(buffer.data(), size, type.get());
}

std::int64_t read_int_attribute(hid_t object, const std::string& name) {
  Handle attribute = open_attribute(object, name);
  Handle type(check_id(H5Aget_type(attribute.get()), "H5Aget_type"));
  require_class(object, name, type.get(), H5T_INTEGER, "an integer");
  std::int64_t value = 0;
  check(H5Aread(attribute.get(), H5T_NATIVE_INT64, &value), ("H5Aread(" + name + ")").c_str());
  return value;
}

double read_real_attribute(hid_t object, const std::string& name) {
  Handle attribute = open_attribute(object, name);
  Handle type(check_id(H5Aget_type(attribute.get()), "H5Aget_type"));
  const H5T_class_t found = H5Tget_class(type.get());
  if (found != H5T_FLOAT && found != H5T_INTEGER)
    throw input_error(describe(object) + ": attribute '" + name + "' is not a number");
  double value = 0;
  check(H5Aread(attribute.get(), H5T_NATIVE_DOUBLE, &value), ("H5Aread(" + name + ")").c_str());
  return value;
}

void require_format(const File& file, const std::string& what, const std::string& format,
                    const std::string& version_attribute, std::int64_t version) {
  const hid_t root = file.get();
  const std::string expected_format = "expected format = '" + format + "'";
  if (!has_attribute(root, "format"))
    throw input_error(file.path() + ": not " + what + " (no root attribute 'format'; " + expected_format +
                      ")");
  auto class_of = [&](const std::string& name) {
    Handle attribute = open_attribute(root, name);
    Handle type(check_id(H5Aget_type(attribute.get()), "H5Aget_type"));
    return H5Tget_class(type.get());
  };
  if (class_of("format") != H5T_STRING)
    throw input_error(file.path() + ": not " + what + " (root attribute 'format' is not text; " +
                      expected_format + ")");
  const std::string found = read_text_attribute(root, "format");
  if (found != format)
    throw input_error(file.path() + ": not " + what + " (root attribute format = '" + found + "', " +
                      expected_format + ")");
  // A later format may move or reinterpret data this reader would then misread silently.
  const std::string expected_version = "expected " + version_attribute + " = " + std::to_string(version) +
                                       ", the " + format + " version this tessera reads";
  if (!has_attribute(root, version_attribute))
    throw input_error(file.path() + ": no root attribute '" + version_attribute + "' (" + expected_version +
                      ")");
  if (class_of(version_attribute) != H5T_INTEGER)
    throw input_error(file.path() + ": root attribute '" + version_attribute + "' is not an integer (" +
                      expected_version + ")");
  const std::int64_t found_version = read_int_attribute(root, version_attribute);
  if (found_version != version)
    throw input_error(file.path() + ": root attribute " + version_attribute + " = " +
                      std::to_string(found_version) + " (" + expected_version + ")");
}

// ---- Datasets
// -----------------------------------------------------------------------------------------------

template <class T>
void write_rows(hid_t parent, const std::string& name, const T* data, Rows rows) {
  write_rows_impl(parent, name, data, rows, 1, 1);
}

template <class T>
void write_rows(hid_t parent, const std::string& name, const T* data, Rows rows, std::int64_t columns) {
  write_rows_impl(parent, name, data, rows, 2, columns);
}

std::vector<std::int64_t> shape(hid_t parent, const std::string& name) {
  Handle dataset = open_dataset(parent, name);
  Handle space(check_id(H5Dget_space(dataset.get()), "H5Dget_space"));
  const int rank = H5Sget_simple_extent_ndims(space.get());
  check(rank, "H5Sget_simple_extent_ndims");
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  check(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr), "H5Sget_simple_extent_dims");
  return std::vector<std::int64_t>(dims.begin(), dims.end());
}

H5T_class_t type_class(hid_t parent, const std::string& name) {
  Handle dataset = open_dataset(parent, name);
  Handle type(check_id(H5Dget_type(dataset.get()), "H5Dget_type"));
  return H5Tget_class(type.get());
}

template <class T>
std::vector<T> read_rows(hid_t parent, const std::string& name, std::int64_t offset, std::int64_t count) {
  Handle dataset = open_dataset(parent, name);
  Handle type(check_id(H5Dget_type(dataset.get()), "H5Dget_type"));
  require_class(parent, name, type.get(), Native<T>::number_class,
                Native<T>::number_class == H5T_FLOAT ? "floating point" : "integer");
  Handle space(check_id(H5Dget_space(dataset.get()), "H5Dget_space"));
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank != 1 && rank != 2)
    throw input_error(describe(parent) + ": dataset '" + name + "' has " + std::to_string(rank) +
                      " dimensions, expected 1 or 2");
  hsize_t dims[2] = {0, 1};
  check(H5Sget_simple_extent_dims(space.get(), dims, nullptr), "H5Sget_simple_extent_dims");
  const auto rows = static_cast<std::int64_t>(dims[0]);
  const auto columns = rank == 2 ? static_cast<std::int64_t>(dims[1]) : 1;
  if (offset < 0 || count < 0 || offset + count > rows)
    throw input_error(describe(parent) + ": dataset '" + name + "' has " + std::to_string(rows) +
                      " rows; cannot read rows [" + std::to_string(offset) + ", " +
                      std::to_string(offset + count) + ")");
  std::vector<T> values(static_cast<std::size_t>(count * columns));
  if (rows == 0 || columns == 0) return values; // no storage to read from; the same answer on every rank
  select_rows(space.get(), rank, offset, count, columns);
  Handle memory = memory_space(space.get(), rank, count, columns);
  Handle transfer = transfer_for(parent);
  T placeholder{};
  check(H5Dread(dataset.get(), Native<T>::memory(), memory.get(), space.get(), transfer.get(),
                values.empty() ? &placeholder : values.data()),
        ("H5Dread(" + name + ")").c_str());
  return values;
}

template <class T>
std::vector<T> read_all(hid_t parent, const std::string& name) {
  const std::vector<std::int64_t> dims = shape(parent, name);
  return read_rows<T>(parent, name, 0, dims.empty() ? 0 : dims[0]);
}

template <class T>
void write_array(hid_t parent, const std::string& name, const T* data, const std::vector<std::int64_t>& dims,
                 const std::vector<std::int64_t>& chunk) {
  std::vector<hsize_t> extent(dims.begin(), dims.end());
  std::int64_t total = 1;
  for (std::int64_t d : dims)
    total *= d;
  Handle space(check_id(H5Screate_simple(static_cast<int>(extent.size()), extent.data(), nullptr),
                        "H5Screate_simple"));
  Handle dcpl(check_id(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate(dataset create)"));
  if (!chunk.empty() && total > 0) {
    std::vector<hsize_t> chunk_extent(chunk.begin(), chunk.end());
    for (std::size_t i = 0; i < chunk_extent.size(); ++i)
      chunk_extent[i] = std::max<hsize_t>(1, std::min(chunk_extent[i], extent[i]));
    check(H5Pset_chunk(dcpl.get(), static_cast<int>(chunk_extent.size()), chunk_extent.data()),
          "H5Pset_chunk");
  }
  Handle dataset(check_id(
      H5Dcreate2(parent, name.c_str(), Native<T>::file(), space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
      ("H5Dcreate2(" + name + ")").c_str()));
  if (total == 0) return;
  check(H5Dwrite(dataset.get(), Native<T>::memory(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data),
        ("H5Dwrite(" + name + ")").c_str());
}

template <class T>
std::vector<T> read_array(hid_t parent, const std::string& name, std::vector<std::int64_t>& dims) {
  dims = shape(parent, name);
  Handle dataset = open_dataset(parent, name);
  Handle type(check_id(H5Dget_type(dataset.get()), "H5Dget_type"));
  require_class(parent, name, type.get(), Native<T>::number_class,
                Native<T>::number_class == H5T_FLOAT ? "floating point" : "integer");
  std::int64_t total = 1;
  for (std::int64_t d : dims)
    total *= d;
  std::vector<T> values(static_cast<std::size_t>(total));
  if (total == 0) return values;
  Handle transfer = transfer_for(parent);
  check(H5Dread(dataset.get(), Native<T>::memory(), H5S_ALL, H5S_ALL, transfer.get(), values.data()),
        ("H5Dread(" + name + ")").c_str());
  return values;
}

// ---- Extendible tables
// ---------------------------------------------------------------------------------------

namespace {

// The in-memory and on-disk element types of an extendible table.
struct TableTypes {
  Handle memory;
  Handle file;
};

TableTypes table_types(const std::int64_t*) {
  return {Handle(check_id(H5Tcopy(H5T_NATIVE_INT64), "H5Tcopy")),
          Handle(check_id(H5Tcopy(H5T_STD_I64LE), "H5Tcopy"))};
}

TableTypes table_types(const StepTime*) {
  Handle memory(check_id(H5Tcreate(H5T_COMPOUND, sizeof(StepTime)), "H5Tcreate(compound)"));
  check(H5Tinsert(memory.get(), "step", HOFFSET(StepTime, step), H5T_NATIVE_INT64), "H5Tinsert(step)");
  check(H5Tinsert(memory.get(), "time", HOFFSET(StepTime, time), H5T_NATIVE_DOUBLE), "H5Tinsert(time)");
  // Packed and little-endian on disk, whatever the padding of the struct in memory.
  Handle file(check_id(H5Tcreate(H5T_COMPOUND, 16), "H5Tcreate(compound)"));
  check(H5Tinsert(file.get(), "step", 0, H5T_STD_I64LE), "H5Tinsert(step)");
  check(H5Tinsert(file.get(), "time", 8, H5T_IEEE_F64LE), "H5Tinsert(time)");
  return {std::move(memory), std::move(file)};
}

} // namespace

template <class T>
void append(hid_t parent, const std::string& name, const std::vector<T>& values, std::int64_t chunk_rows) {
  const TableTypes types = table_types(static_cast<const T*>(nullptr));
  Handle dataset;
  if (exists(parent, name)) {
    dataset = open_dataset(parent, name);
  } else {
    const hsize_t empty[1] = {0};
    const hsize_t unlimited[1] = {H5S_UNLIMITED};
    Handle space(check_id(H5Screate_simple(1, empty, unlimited), "H5Screate_simple"));
    Handle dcpl(check_id(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate(dataset create)"));
    const hsize_t chunk[1] = {static_cast<hsize_t>(std::max<std::int64_t>(1, chunk_rows))};
    check(H5Pset_chunk(dcpl.get(), 1, chunk), "H5Pset_chunk");
    dataset = Handle(check_id(
        H5Dcreate2(parent, name.c_str(), types.file.get(), space.get(), H5P_DEFAULT, dcpl.get(), H5P_DEFAULT),
        ("H5Dcreate2(" + name + ")").c_str()));
  }
  if (values.empty()) return;
  hsize_t rows = 0;
  {
    Handle space(check_id(H5Dget_space(dataset.get()), "H5Dget_space"));
    if (H5Sget_simple_extent_ndims(space.get()) != 1)
      throw runtime_error(describe(dataset.get()) + ": not a 1-D table");
    check(H5Sget_simple_extent_dims(space.get(), &rows, nullptr), "H5Sget_simple_extent_dims");
  }
  const hsize_t added[1] = {values.size()};
  const hsize_t extent[1] = {rows + values.size()};
  check(H5Dset_extent(dataset.get(), extent), ("H5Dset_extent(" + name + ")").c_str());
  Handle space(check_id(H5Dget_space(dataset.get()), "H5Dget_space"));
  Handle memory(check_id(H5Screate_simple(1, added, nullptr), "H5Screate_simple"));
  const hsize_t start[1] = {rows};
  check(H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, start, nullptr, added, nullptr),
        "H5Sselect_hyperslab");
  // Every rank holds the same values; one writer avoids overlapping writes of the same bytes.
  if (file_rank(parent) != 0) {
    check(H5Sselect_none(space.get()), "H5Sselect_none");
    check(H5Sselect_none(memory.get()), "H5Sselect_none");
  }
  Handle transfer = transfer_for(parent);
  check(H5Dwrite(dataset.get(), types.memory.get(), memory.get(), space.get(), transfer.get(), values.data()),
        ("H5Dwrite(" + name + ")").c_str());
}

template void append<std::int64_t>(hid_t, const std::string&, const std::vector<std::int64_t>&, std::int64_t);
template void append<StepTime>(hid_t, const std::string&, const std::vector<StepTime>&, std::int64_t);

#define TESSERA_H5_ROWS(T)                                                                                   \
  template void write_array<T>(hid_t, const std::string&, const T*, const std::vector<std::int64_t>&,        \
                               const std::vector<std::int64_t>&);                                            \
  template std::vector<T> read_array<T>(hid_t, const std::string&, std::vector<std::int64_t>&);              \
  template void write_rows<T>(hid_t, const std::string&, const T*, Rows);                                    \
  template void write_rows<T>(hid_t, const std::string&, const T*, Rows, std::int64_t);                      \
  template std::vector<T> read_rows<T>(hid_t, const std::string&, std::int64_t, std::int64_t);               \
  template std::vector<T> read_all<T>(hid_t, const std::string&);
TESSERA_H5_ROWS(std::uint64_t)
TESSERA_H5_ROWS(std::int64_t)
TESSERA_H5_ROWS(std::int32_t)
TESSERA_H5_ROWS(double)
#undef TESSERA_H5_ROWS

// ---- Strings
// ------------------------------------------------------------------------------------------------

void write_strings(hid_t parent, const std::string& name, const std::vector<std::string>& values) {
  std::size_t width = 1; // room for the terminating NUL
  for (const std::string& value : values)
    width = std::max(width, value.size() + 1);
  Handle type(check_id(H5Tcopy(H5T_C_S1), "H5Tcopy"));
  check(H5Tset_size(type.get(), width), "H5Tset_size");
  check(H5Tset_cset(type.get(), H5T_CSET_UTF8), "H5Tset_cset");
  check(H5Tset_strpad(type.get(), H5T_STR_NULLTERM), "H5Tset_strpad");
  const hsize_t extent[1] = {values.size()};
  Handle space(check_id(H5Screate_simple(1, extent, nullptr), "H5Screate_simple"));
  Handle dataset(check_id(
      H5Dcreate2(parent, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
      ("H5Dcreate2(" + name + ")").c_str()));
  std::vector<char> buffer(values.size() * width + 1, '\0');
  for (std::size_t i = 0; i < values.size(); ++i)
    std::memcpy(buffer.data() + i * width, values[i].data(), values[i].size());
  if (values.empty()) return; // as in write_rows: nothing to store, and HDF5 would fail to write nothing
  // Every rank holds the same names; one writer avoids overlapping writes of the same bytes.
  if (file_rank(parent) != 0) check(H5Sselect_none(space.get()), "H5Sselect_none");
  Handle transfer = transfer_for(parent);
  check(H5Dwrite(dataset.get(), type.get(), space.get(), space.get(), transfer.get(), buffer.data()),
        ("H5Dwrite(" + name + ")").c_str());
}

std::vector<std::string> read_strings(hid_t parent, const std::string& name) {
  Handle dataset = open_dataset(parent, name);
  Handle type(check_id(H5Dget_type(dataset.get()), "H5Dget_type"));
  require_class(parent, name, type.get(), H5T_STRING, "text");
  Handle space(check_id(H5Dget_space(dataset.get()), "H5Dget_space"));
  if (H5Sget_simple_extent_ndims(space.get()) != 1)
    throw input_error(describe(parent) + ": dataset '" + name + "' is not a 1-D list of strings");
  const auto count = static_cast<std::size_t>(H5Sget_simple_extent_npoints(space.get()));
  Handle transfer = transfer_for(parent);
  std::vector<std::string> values;
  values.reserve(count);
  if (count == 0) return values;
  const htri_t variable = H5Tis_variable_str(type.get());
  check(variable, "H5Tis_variable_str");
  if (variable > 0) {
    Handle memory = variable_text_type();
    std::vector<char*> pointers(count + 1, nullptr);
    check(H5Dread(dataset.get(), memory.get(), H5S_ALL, H5S_ALL, transfer.get(), pointers.data()),
          ("H5Dread(" + name + ")").c_str());
    for (std::size_t i = 0; i < count; ++i)
      values.emplace_back(pointers[i] ? pointers[i] : "");
    check(reclaim(memory.get(), space.get(), pointers.data()), "vlen reclaim");
    return values;
  }
  const std::size_t width = H5Tget_size(type.get());
  std::vector<char> buffer(count * width + 1, '\0');
  check(H5Dread(dataset.get(), type.get(), H5S_ALL, H5S_ALL, transfer.get(), buffer.data()),
        ("H5Dread(" + name + ")").c_str());
  for (std::size_t i = 0; i < count; ++i)
    values.push_back(trim_fixed(buffer.data() + i * width, width, type.get()));
  return values;
}

void write_text(hid_t parent, const std::string& name, const std::string& value) {
  Handle type(check_id(H5Tcopy(H5T_C_S1), "H5Tcopy"));
  check(H5Tset_size(type.get(), value.size() + 1), "H5Tset_size");
  check(H5Tset_cset(type.get(), H5T_CSET_UTF8), "H5Tset_cset");
  check(H5Tset_strpad(type.get(), H5T_STR_NULLTERM), "H5Tset_strpad");
  Handle space(check_id(H5Screate(H5S_SCALAR), "H5Screate"));
  Handle dataset(check_id(
      H5Dcreate2(parent, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
      ("H5Dcreate2(" + name + ")").c_str()));
  check(H5Dwrite(dataset.get(), type.get(), H5S_ALL, H5S_ALL, H5P_DEFAULT, value.c_str()),
        ("H5Dwrite(" + name + ")").c_str());
}

} // namespace tessera::h5
