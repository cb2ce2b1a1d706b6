#include "tessera/io/hdf5.hpp"

#include "tessera/parallel/mpi.hpp"

#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <numeric>

namespace tessera::h5 {

long long available_bytes_beside(const std::string& path) {
  std::filesystem::path folder = std::filesystem::path(path).parent_path();
  if (folder.empty()) folder = ".";
  struct statvfs fs {};
  if (statvfs(folder.c_str(), &fs) != 0) return -1;
  return static_cast<long long>(fs.f_bavail) * static_cast<long long>(fs.f_frsize);
}

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

// The name of the file an object lives in; empty when HDF5 cannot say.
std::string file_name(hid_t object) {
  const ssize_t length = H5Fget_name(object, nullptr, 0);
  if (length <= 0) return std::string();
  std::vector<char> buffer(static_cast<std::size_t>(length) + 1);
  H5Fget_name(object, buffer.data(), buffer.size());
  return buffer.data();
}

// Neither HDF5's stack nor MPI-IO's return code carries errno (Open MPI's OMPIO reports a short write as
// success, HDF5 then only says "file write failed"), and in a collective write only the rank that wrote the
// bytes sees ENOSPC: so a full file system is recognised by errno or, failing that, by what statvfs says is
// left where the file lives.
std::string storage_note(const std::string& path, int error_number) {
  if (error_number == ENOSPC || error_number == EDQUOT) return ": no space left on device";
  const long long available = available_bytes_beside(path);
  constexpr long long nearly_full = 1ll << 20;
  if (available < 0 || available >= nearly_full) return std::string();
  std::filesystem::path folder = std::filesystem::path(path).parent_path();
  if (folder.empty()) folder = ".";
  return ": no space left on device (" + std::to_string(available / 1024) + " KiB free in " +
         folder.string() + ")";
}

// A failed write, flush or close: runtime_error naming the file and object.
void check_write(herr_t rc, hid_t object, const std::string& call) {
  if (rc >= 0) return;
  const int error_number = errno;
  const std::string stack = error_stack();
  throw runtime_error(describe(object) + ": " + call + " failed" +
                      storage_note(file_name(object), error_number) + ": " + stack);
}
hid_t check_write_id(hid_t id, hid_t object, const std::string& call) {
  check_write(static_cast<herr_t>(id < 0 ? -1 : 0), object, call);
  return id;
}

// A failed read: the file is the user's input, so input_error naming it and what was being read.
void check_read(herr_t rc, hid_t object, const std::string& what) {
  if (rc >= 0) return;
  const std::string stack = error_stack();
  throw input_error(describe(object) + ": cannot read " + what + ": " + stack);
}
hid_t check_read_id(hid_t id, hid_t object, const std::string& what) {
  check_read(static_cast<herr_t>(id < 0 ? -1 : 0), object, what);
  return id;
}

// HDF5 changed the names of these two calls in 1.12; this adapter is where the guard lives.
htri_t is_hdf5_file(const std::string& path) {
#if H5_VERSION_GE(1, 12, 0)
  return H5Fis_accessible(path.c_str(), H5P_DEFAULT);
#else
  return H5Fis_hdf5(path.c_str());
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

// A file system that is full (or read-only, or failing) is a runtime error; a path the user got wrong (no
// such folder, no permission) is an input error.
Handle create_file(const std::string& path, hid_t fapl) {
  Handle file(H5Fcreate(path.c_str(), H5F_ACC_EXCL, H5P_DEFAULT, fapl));
  if (file.valid()) return file;
  const int error_number = errno;
  const std::string stack = error_stack();
  const std::string note = storage_note(path, error_number);
  // H5F_ACC_EXCL: unless it failed because the file exists, what is there is this call's partial file.
  std::error_code ec;
  if (error_number != EEXIST) std::filesystem::remove(path, ec);
  if (!note.empty() || error_number == EIO || error_number == EROFS)
    throw runtime_error(path + ": cannot create HDF5 file" + note + ": " + stack);
  throw input_error(path + ": cannot create HDF5 file: " + stack);
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

// The communicator a parallel file was opened on (collective: H5Pget_fapl_mpio duplicates it), freed on
// destruction.
class FileCommunicator {
public:
  explicit FileCommunicator(hid_t object) {
    Handle file(check_id(H5Iget_file_id(object), "H5Iget_file_id"));
    Handle fapl(check_id(H5Fget_access_plist(file.get()), "H5Fget_access_plist"));
    check(H5Pget_fapl_mpio(fapl.get(), &comm_, &info_), "H5Pget_fapl_mpio");
  }
  ~FileCommunicator() {
    if (comm_ != MPI_COMM_NULL) MPI_Comm_free(&comm_);
    if (info_ != MPI_INFO_NULL) MPI_Info_free(&info_);
  }
  FileCommunicator(const FileCommunicator&) = delete;
  FileCommunicator& operator=(const FileCommunicator&) = delete;
  MPI_Comm get() const { return comm_; }

private:
  MPI_Comm comm_ = MPI_COMM_NULL;
  MPI_Info info_ = MPI_INFO_NULL;
};

// Rank within the communicator a parallel file was opened on; 0 for a serial file.
int file_rank(hid_t object) {
  if (!is_mpio(object)) return 0;
  const FileCommunicator comm(object);
  return mpi::rank(comm.get());
}

// Set once a file could not be closed cleanly (see unclosable_files()).
bool unclosable = false;

// How long a rank whose call failed waits for the others to reach the agreement. A rank that did not fail
// may be stuck inside HDF5 in a collective call the failing rank left early (H5D__chunk_allocate's barrier,
// a metadata cache sync point): then nothing but ending the job helps.
constexpr double agreement_patience_s = 5;

// Runs `body`, which may fail on some ranks only (a collective write whose bytes one rank wrote, a chunk only
// one rank reads); in a parallel file every rank then throws the same error before any goes on.
template <class Body>
void agreed(hid_t object, Body&& body) {
  if (!is_mpio(object)) {
    body();
    return;
  }
  const FileCommunicator comm(object);
  std::unique_ptr<Error> failure;
  try {
    body();
  } catch (const Error& e) {
    failure = std::make_unique<Error>(e);
  } catch (const std::exception& e) {
    failure = std::make_unique<Error>(runtime_error(e.what()));
  }
  MPI_Request arrived = MPI_REQUEST_NULL;
  mpi::check(MPI_Ibarrier(comm.get(), &arrived), "MPI_Ibarrier");
  if (!failure) {
    mpi::check(MPI_Wait(&arrived, MPI_STATUS_IGNORE), "MPI_Wait");
  } else {
    // After a failed write HDF5's state differs between ranks, so the file cannot be closed collectively.
    unclosable = true;
    const double deadline = MPI_Wtime() + agreement_patience_s;
    int done = 0;
    while (!done && MPI_Wtime() < deadline) {
      mpi::check(MPI_Test(&arrived, &done, MPI_STATUS_IGNORE), "MPI_Test");
      if (!done) usleep(1000);
    }
    if (!done) {
      std::fprintf(stderr,
                   "tessera [rank %d]: error: %s (the other ranks are stuck in HDF5; ending the job)\n",
                   mpi::rank(MPI_COMM_WORLD), failure->what());
      std::fflush(stderr);
      MPI_Abort(MPI_COMM_WORLD, static_cast<int>(failure->code()));
    }
  }
  mpi::agree_on(comm.get(), failure.get());
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

// ---- Variable-length strings
// HDF5 keeps a variable-length string's bytes in a global heap collection and, where the string is stored,
// only its length and the heap object's address. HDF5 1.10 trusts both: a damaged length or heap makes
// H5HG_read copy past its buffers (a crash, not an error). So the adapter reads these strings itself: a
// conversion that hands back the stored (length, heap id) bytes unchanged, and a reader of the heap
// collection (HDF5 file format specification, "Global Heap") that checks every size against the
// collection it reads.

constexpr const char* raw_heap_id_tag = "tessera: variable-length string as stored (length, heap id)";

// The conversion from a stored variable-length string to raw_heap_id_type(): the bytes stay as they are.
herr_t keep_stored_bytes(hid_t source, hid_t destination, H5T_cdata_t* cdata, size_t, size_t, size_t, void*,
                         void*, hid_t) {
  if (cdata->command != H5T_CONV_INIT) return 0; // H5T_CONV_CONV: nothing to change; H5T_CONV_FREE
  if (H5Tis_variable_str(source) <= 0 || H5Tget_class(destination) != H5T_OPAQUE ||
      H5Tget_size(source) != H5Tget_size(destination))
    return -1;
  char* tag = H5Tget_tag(destination);
  const bool ours = tag && std::strcmp(tag, raw_heap_id_tag) == 0;
  H5free_memory(tag);
  return ours ? 0 : -1; // -1: HDF5 looks for another conversion for this pair of types
}

// An opaque type of the stored size of one variable-length string in the file holding `object`.
Handle raw_heap_id_type(std::size_t stored_size) {
  static const bool registered = [] {
    Handle text = variable_text_type();
    Handle opaque(check_id(H5Tcreate(H5T_OPAQUE, 16), "H5Tcreate(opaque)"));
    check(H5Tset_tag(opaque.get(), raw_heap_id_tag), "H5Tset_tag");
    check(H5Tregister(H5T_PERS_SOFT, "tessera_keep_stored_vlen", text.get(), opaque.get(), keep_stored_bytes),
          "H5Tregister");
    return true;
  }();
  (void)registered;
  Handle type(check_id(H5Tcreate(H5T_OPAQUE, stored_size), "H5Tcreate(opaque)"));
  check(H5Tset_tag(type.get(), raw_heap_id_tag), "H5Tset_tag");
  return type;
}

std::uint64_t little_endian(const unsigned char* bytes, std::size_t size) {
  std::uint64_t value = 0;
  for (std::size_t i = size; i-- > 0;)
    value = (value << 8) | bytes[i];
  return value;
}

// Reads variable-length strings of one file from their stored form, checking each against its heap
// collection; damage is an input_error naming `where` and `what`.
class StoredStringReader {
public:
  StoredStringReader(hid_t object, std::string what) : where_(describe(object)), what_(std::move(what)) {
    Handle file(check_id(H5Iget_file_id(object), "H5Iget_file_id"));
    Handle fcpl(check_id(H5Fget_create_plist(file.get()), "H5Fget_create_plist"));
    check(H5Pget_sizes(fcpl.get(), &address_size_, &length_size_), "H5Pget_sizes");
    hsize_t userblock = 0;
    check(H5Pget_userblock(fcpl.get(), &userblock), "H5Pget_userblock");
    base_ = userblock;
    path_ = file_name(object);
    in_.open(path_, std::ios::binary);
    if (!in_) fail("cannot open the file to read its heap");
    in_.seekg(0, std::ios::end);
    file_size_ = static_cast<std::uint64_t>(in_.tellg());
  }

  // Bytes one stored string takes: its length (4), the heap collection's address, the object's index (4).
  std::size_t stored_size() const { return 4 + address_size_ + 4; }

  std::string read(const unsigned char* stored) {
    const std::uint64_t length = little_endian(stored, 4);
    if (length == 0) return std::string();
    const std::uint64_t address = little_endian(stored + 4, address_size_);
    const std::uint64_t index = little_endian(stored + 4 + address_size_, 4);
    const std::vector<unsigned char>& heap = collection(address);
    const std::size_t header = 8 + length_size_;        // "GCOL", version, reserved, collection size
    const std::size_t object_header = 8 + length_size_; // index, references, reserved, object size
    std::size_t at = header;
    while (at + object_header <= heap.size()) {
      const std::uint64_t found = little_endian(&heap[at], 2);
      const std::uint64_t size = little_endian(&heap[at + 8], length_size_);
      if (found == 0) break; // the free space that ends the collection
      if (size > heap.size() - at - object_header) fail("a heap object runs past its collection");
      if (found == index) {
        if (size != length) fail("a string's stored length disagrees with its heap object");
        return std::string(reinterpret_cast<const char*>(&heap[at + object_header]), length);
      }
      at += object_header + (size + 7) / 8 * 8;
    }
    fail("heap object " + std::to_string(index) + " is missing from its collection");
  }

private:
  [[noreturn]] void fail(const std::string& reason) const {
    throw input_error(where_ + ": cannot read " + what_ + ": damaged variable-length string (" + reason +
                      ")");
  }

  const std::vector<unsigned char>& collection(std::uint64_t address) {
    auto cached = collections_.find(address);
    if (cached != collections_.end()) return cached->second;
    const std::size_t header = 8 + length_size_;
    const std::uint64_t at = base_ + address;
    if (address >= file_size_ || at > file_size_ - header) fail("heap address beyond the end of the file");
    std::vector<unsigned char> heap(header);
    in_.seekg(static_cast<std::streamoff>(at));
    in_.read(reinterpret_cast<char*>(heap.data()), static_cast<std::streamsize>(header));
    if (!in_ || std::memcmp(heap.data(), "GCOL", 4) != 0 || heap[4] != 1)
      fail("no heap collection where one is stored");
    const std::uint64_t size = little_endian(&heap[8], length_size_);
    if (size < header || size > file_size_ - at) fail("heap collection size beyond the end of the file");
    heap.resize(size);
    in_.read(reinterpret_cast<char*>(heap.data() + header), static_cast<std::streamsize>(size - header));
    if (!in_) fail("cannot read the heap collection");
    return collections_.emplace(address, std::move(heap)).first->second;
  }

  std::string where_, what_, path_;
  std::size_t address_size_ = 8, length_size_ = 8;
  std::uint64_t base_ = 0, file_size_ = 0;
  std::ifstream in_;
  std::map<std::uint64_t, std::vector<unsigned char>> collections_;
};

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
  return Handle(check_read_id(H5Dopen2(parent, name.c_str(), H5P_DEFAULT), parent, "dataset '" + name + "'"));
}

Handle open_attribute(hid_t object, const std::string& name) {
  if (!has_attribute(object, name)) throw input_error(describe(object) + ": no attribute '" + name + "'");
  return Handle(
      check_read_id(H5Aopen(object, name.c_str(), H5P_DEFAULT), object, "attribute '" + name + "'"));
}

// Creates (or replaces) a scalar attribute and writes it. Agreed in a parallel file: creating metadata can
// make HDF5 flush its metadata cache collectively, and that write may fail on one rank only.
void write_attribute(hid_t object, const std::string& name, hid_t file_type, hid_t memory_type,
                     const void* value) {
  Handle space(check_id(H5Screate(H5S_SCALAR), "H5Screate"));
  agreed(object, [&] {
    if (has_attribute(object, name))
      check_write(H5Adelete(object, name.c_str()), object, "H5Adelete(" + name + ")");
    Handle attribute(
        check_write_id(H5Acreate2(object, name.c_str(), file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT),
                       object, "H5Acreate2(" + name + ")"));
    check_write(H5Awrite(attribute.get(), memory_type, value), object, "H5Awrite(" + name + ")");
  });
}

// Numbers are stored as integers or as floats; reading one as the other would silently change ids or values.
void require_class(hid_t object, const std::string& name, hid_t type, H5T_class_t wanted, const char* what) {
  const H5T_class_t found = H5Tget_class(type);
  if (found != wanted) throw input_error(describe(object) + ": '" + name + "' is not " + what);
}

// A damaged dataspace can claim any number of elements; reading it would try to allocate them. Data stored
// contiguously or compactly must fill its storage exactly; chunked data may be compressed, but by no more
// than deflate's limit (about 1032:1).
void require_stored(hid_t parent, const std::string& name, hid_t dataset, double claimed_bytes) {
  if (claimed_bytes <= 0) return;
  Handle dcpl(check_read_id(H5Dget_create_plist(dataset), parent, "dataset '" + name + "'"));
  const double stored = static_cast<double>(H5Dget_storage_size(dataset));
  const bool chunked = H5Pget_layout(dcpl.get()) == H5D_CHUNKED;
  if (stored * (chunked ? 1100.0 : 1.0) >= claimed_bytes) return;
  throw input_error(describe(parent) + ": cannot read dataset '" + name + "': its shape claims " +
                    std::to_string(static_cast<long long>(claimed_bytes)) + " bytes but the file stores " +
                    std::to_string(static_cast<long long>(stored)) + " (damaged)");
}

// Dataset creation for the data tessera writes: chunked (about 1 MiB per chunk, whole rows) with a
// Fletcher-32 checksum per chunk, so flipped bytes in the data are a read error rather than a silently wrong
// value. Parallel HDF5 writes filtered chunks since 1.10.2, with collective transfer as write_rows uses.
// Datasets without elements get no storage and need no checksum.
Handle checksummed_layout(const std::vector<hsize_t>& extent, std::vector<hsize_t> chunk,
                          std::size_t element_size) {
  Handle dcpl(check_id(H5Pcreate(H5P_DATASET_CREATE), "H5Pcreate(dataset create)"));
  if (extent.empty()) return dcpl;
  hsize_t row_size = element_size;
  for (std::size_t d = 1; d < extent.size(); ++d)
    row_size *= extent[d];
  if (row_size == 0 || extent[0] == 0) return dcpl;
  if (chunk.empty()) {
    constexpr hsize_t chunk_bytes = 1 << 20;
    chunk = extent;
    chunk[0] = std::max<hsize_t>(1, chunk_bytes / row_size);
  }
  for (std::size_t d = 0; d < chunk.size(); ++d)
    chunk[d] = std::max<hsize_t>(1, std::min(chunk[d], extent[d]));
  check(H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data()), "H5Pset_chunk");
  check(H5Pset_fletcher32(dcpl.get()), "H5Pset_fletcher32");
  // Every chunk is written in full right after creation; a fill pass first would write all data twice.
  check(H5Pset_fill_time(dcpl.get(), H5D_FILL_TIME_NEVER), "H5Pset_fill_time");
  return dcpl;
}

// Agreed in a parallel file, like every call that adds metadata (see write_attribute).
Handle create_dataset(hid_t parent, const std::string& name, hid_t type, hid_t space, hid_t dcpl) {
  Handle dataset;
  agreed(parent, [&] {
    dataset =
        Handle(check_write_id(H5Dcreate2(parent, name.c_str(), type, space, H5P_DEFAULT, dcpl, H5P_DEFAULT),
                              parent, "H5Dcreate2(" + name + ")"));
  });
  return dataset;
}

// Writes the selected elements and closes the dataset, each step agreed in a parallel file. Closing is
// checked because HDF5 may keep written data in a buffer until then.
void write_and_close(hid_t parent, const std::string& name, Handle& dataset, hid_t memory_type,
                     hid_t memory_space, hid_t file_space, const void* data) {
  agreed(parent, [&] {
    Handle transfer = transfer_for(parent);
    check_write(H5Dwrite(dataset.get(), memory_type, memory_space, file_space, transfer.get(), data), parent,
                "H5Dwrite(" + name + ")");
  });
  agreed(parent, [&] {
    check_write(H5Dclose(dataset.release()), parent, "H5Dclose(" + name + ") (writing its data)");
  });
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
  const std::vector<hsize_t> extent{static_cast<hsize_t>(rows.total), static_cast<hsize_t>(columns)};
  Handle space(check_id(H5Screate_simple(rank, extent.data(), nullptr), "H5Screate_simple"));
  Handle dcpl = checksummed_layout({extent.begin(), extent.begin() + rank}, {}, sizeof(T));
  Handle dataset = create_dataset(parent, name, Native<T>::file(), space.get(), dcpl.get());
  // A dataset without elements has no storage, and HDF5 1.10 fails a collective write to it even when nothing
  // is selected; `total` and `columns` are the same on every rank, so all skip it together.
  if (rows.total == 0 || (rank == 2 && columns == 0)) return;
  select_rows(space.get(), rank, rows.offset, rows.count, columns);
  Handle memory = memory_space(space.get(), rank, rows.count, columns);
  const T placeholder{}; // HDF5 rejects a null buffer even when nothing is selected
  write_and_close(parent, name, dataset, Native<T>::memory(), memory.get(), space.get(),
                  empty ? &placeholder : data);
}

} // namespace

bool unclosable_files() {
  return unclosable;
}

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

File::~File() {
  // Closing a parallel file is collective, and after a failed write the ranks' HDF5 states differ: left to
  // the end of the process (unclosable_files()).
  if (parallel_ && unclosable) file_.release();
  if (!remove_unless_closed_) return;
  // Reached without a successful close(): an exception is on its way, and a half-written file must not look
  // like an output.
  file_.reset();
  std::error_code ec;
  std::filesystem::remove(path_, ec);
}

File::File(File&& other) noexcept
    : file_(std::move(other.file_)), path_(std::move(other.path_)), parallel_(other.parallel_),
      remove_unless_closed_(other.remove_unless_closed_) {
  other.remove_unless_closed_ = false;
}

File& File::operator=(File&& other) noexcept {
  if (this != &other) {
    File old(std::move(*this));
    file_ = std::move(other.file_);
    path_ = std::move(other.path_);
    parallel_ = other.parallel_;
    remove_unless_closed_ = other.remove_unless_closed_;
    other.remove_unless_closed_ = false;
  }
  return *this;
}

File File::create_parallel(MPI_Comm comm, const std::string& path) {
  silence_errors();
  // Checked on rank 0 alone, so every rank gets the same answer even on a file system with stale caches.
  mpi::agree(comm, [&] {
    if (mpi::rank(comm) == 0) require_absent(path);
  });
  Handle fapl = file_access(comm, true);
  Handle file;
  mpi::agree(comm, [&] { file = create_file(path, fapl.get()); });
  return File(std::move(file), path, true, false);
}

File File::create(const std::string& path) {
  silence_errors();
  require_absent(path);
  Handle fapl = file_access(MPI_COMM_NULL, false);
  return File(create_file(path, fapl.get()), path, false, true);
}

File File::open_read(const std::string& path) {
  silence_errors();
  require_readable_hdf5(path);
  Handle file(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT));
  if (!file.valid()) throw input_error(path + ": cannot open HDF5 file: " + error_stack());
  return File(std::move(file), path, false, false);
}

File File::open_append(const std::string& path) {
  silence_errors();
  require_readable_hdf5(path);
  Handle file(H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT));
  if (!file.valid()) throw runtime_error(path + ": cannot open HDF5 file for writing: " + error_stack());
  return File(std::move(file), path, false, false);
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
  return File(std::move(file), path, true, false);
}

File File::open_append_parallel(MPI_Comm comm, const std::string& path) {
  silence_errors();
  mpi::agree(comm, [&] {
    if (mpi::rank(comm) == 0) require_readable_hdf5(path);
  });
  Handle fapl = file_access(comm, true);
  Handle file;
  mpi::agree(comm, [&] {
    file = Handle(H5Fopen(path.c_str(), H5F_ACC_RDWR, fapl.get()));
    if (!file.valid()) throw input_error(path + ": cannot open HDF5 file for writing: " + error_stack());
  });
  return File(std::move(file), path, true, false);
}

void File::flush() {
  if (!file_.valid()) throw runtime_error(path_ + ": flush of a closed HDF5 file");
  agreed(file_.get(), [&] { check_write(H5Fflush(file_.get(), H5F_SCOPE_GLOBAL), file_.get(), "H5Fflush"); });
}

void File::close() {
  if (!file_.valid()) return;
  if (parallel_ && unclosable)
    throw runtime_error(path_ +
                        ": not closed: an earlier write to it failed, and closing would flush collectively");
  if (parallel_) {
    const FileCommunicator comm(file_.get());
    mpi::agree(comm.get(), [&] { close_now(); });
  } else {
    close_now();
  }
  remove_unless_closed_ = false;
}

void File::close_now() {
  // An object still open keeps HDF5's file open: H5Fclose would then succeed without writing anything, and
  // the real flush would fail unseen when the last object closes.
  const ssize_t open = H5Fget_obj_count(file_.get(), H5F_OBJ_DATASET | H5F_OBJ_GROUP | H5F_OBJ_DATATYPE |
                                                         H5F_OBJ_ATTR | H5F_OBJ_LOCAL);
  if (open != 0)
    throw runtime_error(path_ + ": cannot close: " + std::to_string(open) +
                        " group(s), dataset(s) or attribute(s) of it are still open");
  const herr_t closed = H5Fclose(file_.release());
  if (closed >= 0) return;
  unclosable = true;
  const int error_number = errno;
  const std::string stack = error_stack();
  throw runtime_error(path_ + ": closing the HDF5 file failed" + storage_note(path_, error_number) + ": " +
                      stack);
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
  Handle group;
  agreed(parent, [&] {
    group = Handle(check_write_id(H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                                  parent, "H5Gcreate2(" + name + ")"));
  });
  return group;
}

Handle create_ordered_group(hid_t parent, const std::string& name) {
  Handle gcpl(check_id(H5Pcreate(H5P_GROUP_CREATE), "H5Pcreate(group create)"));
  check(H5Pset_link_creation_order(gcpl.get(), H5P_CRT_ORDER_TRACKED | H5P_CRT_ORDER_INDEXED),
        "H5Pset_link_creation_order");
  Handle group;
  agreed(parent, [&] {
    group = Handle(check_write_id(H5Gcreate2(parent, name.c_str(), H5P_DEFAULT, gcpl.get(), H5P_DEFAULT),
                                  parent, "H5Gcreate2(" + name + ")"));
  });
  return group;
}

Handle open_group(hid_t parent, const std::string& name) {
  return Handle(check_read_id(H5Gopen2(parent, name.c_str(), H5P_DEFAULT), parent, "group '" + name + "'"));
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
      check_read(found, parent, "link '" + prefix + "'");
      if (found == 0) return false;
    }
    begin = end + 1;
  }
  return !prefix.empty();
}

std::vector<std::string> children(hid_t group) {
  H5G_info_t info;
  check_read(H5Gget_info(group, &info), group, "the group's links");
  std::vector<std::string> names;
  names.reserve(info.nlinks);
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t length =
        H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    check_read(static_cast<herr_t>(length < 0 ? -1 : 0), group, "the group's links");
    std::vector<char> buffer(static_cast<std::size_t>(length) + 1);
    check_read(static_cast<herr_t>(H5Lget_name_by_idx(group, ".", H5_INDEX_NAME, H5_ITER_INC, i,
                                                      buffer.data(), buffer.size(), H5P_DEFAULT) < 0
                                       ? -1
                                       : 0),
               group, "the group's links");
    names.emplace_back(buffer.data());
  }
  return names;
}

void remove_link(hid_t parent, const std::string& name) {
  agreed(parent, [&] {
    check_write(H5Ldelete(parent, name.c_str(), H5P_DEFAULT), parent, "H5Ldelete(" + name + ")");
  });
}

Handle open_object(hid_t parent, const std::string& name) {
  if (!exists(parent, name)) throw input_error(describe(parent) + ": no object '" + name + "'");
  return Handle(check_read_id(H5Oopen(parent, name.c_str(), H5P_DEFAULT), parent, "object '" + name + "'"));
}

bool is_group(hid_t object) {
  return H5Iget_type(object) == H5I_GROUP;
}

// ---- Attributes
// ---------------------------------------------------------------------------------------------

bool has_attribute(hid_t object, const std::string& name) {
  const htri_t found = H5Aexists(object, name.c_str());
  check_read(found, object, "attribute '" + name + "'");
  return found > 0;
}

void write_text_attribute(hid_t object, const std::string& name, const std::string& value) {
  Handle type = variable_text_type();
  const char* text = value.c_str();
  write_attribute(object, name, type.get(), type.get(), &text);
}

void write_int_attribute(hid_t object, const std::string& name, std::int64_t value) {
  write_attribute(object, name, H5T_STD_I64LE, H5T_NATIVE_INT64, &value);
}

void write_real_attribute(hid_t object, const std::string& name, double value) {
  write_attribute(object, name, H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, &value);
}

void write_bool_attribute(hid_t object, const std::string& name, bool value) {
  Handle type(check_id(H5Tenum_create(H5T_NATIVE_INT8), "H5Tenum_create"));
  const std::int8_t no = 0, yes = 1;
  check(H5Tenum_insert(type.get(), "FALSE", &no), "H5Tenum_insert");
  check(H5Tenum_insert(type.get(), "TRUE", &yes), "H5Tenum_insert");
  const std::int8_t stored = value ? yes : no;
  write_attribute(object, name, type.get(), type.get(), &stored);
}

void write_text_array_attribute(hid_t object, const std::string& name,
                                const std::vector<std::string>& values) {
  Handle type = variable_text_type();
  const hsize_t extent[1] = {values.size()};
  Handle space(check_id(H5Screate_simple(1, extent, nullptr), "H5Screate_simple"));
  agreed(object, [&] {
    if (has_attribute(object, name))
      check_write(H5Adelete(object, name.c_str()), object, "H5Adelete(" + name + ")");
    Handle attribute(
        check_write_id(H5Acreate2(object, name.c_str(), type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT),
                       object, "H5Acreate2(" + name + ")"));
    if (values.empty()) return;
    std::vector<const char*> pointers;
    for (const std::string& value : values)
      pointers.push_back(value.c_str());
    check_write(H5Awrite(attribute.get(), type.get(), pointers.data()), object, "H5Awrite(" + name + ")");
  });
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
    StoredStringReader reader(object, "attribute '" + name + "'");
    Handle memory = raw_heap_id_type(reader.stored_size());
    std::vector<unsigned char> stored(reader.stored_size());
    check_read(H5Aread(attribute.get(), memory.get(), stored.data()), object, "attribute '" + name + "'");
    return reader.read(stored.data());
  }
  const std::size_t size = H5Tget_size(type.get());
  std::vector<char> buffer(size + 1, '\0');
  check_read(H5Aread(attribute.get(), type.get(), buffer.data()), object, "attribute '" + name + "'");
  return trim_fixed(buffer.data(), size, type.get());
}

std::int64_t read_int_attribute(hid_t object, const std::string& name) {
  Handle attribute = open_attribute(object, name);
  Handle type(check_id(H5Aget_type(attribute.get()), "H5Aget_type"));
  require_class(object, name, type.get(), H5T_INTEGER, "an integer");
  std::int64_t value = 0;
  check_read(H5Aread(attribute.get(), H5T_NATIVE_INT64, &value), object, "attribute '" + name + "'");
  return value;
}

double read_real_attribute(hid_t object, const std::string& name) {
  Handle attribute = open_attribute(object, name);
  Handle type(check_id(H5Aget_type(attribute.get()), "H5Aget_type"));
  const H5T_class_t found = H5Tget_class(type.get());
  if (found != H5T_FLOAT && found != H5T_INTEGER)
    throw input_error(describe(object) + ": attribute '" + name + "' is not a number");
  double value = 0;
  check_read(H5Aread(attribute.get(), H5T_NATIVE_DOUBLE, &value), object, "attribute '" + name + "'");
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

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string out = "[";
  for (std::size_t i = 0; i < shape.size(); ++i)
    out += (i ? ", " : "") + std::to_string(shape[i]);
  return out + "]";
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
  require_stored(parent, name, dataset.get(),
                 static_cast<double>(rows) * static_cast<double>(columns) *
                     static_cast<double>(H5Tget_size(type.get())));
  std::vector<T> values(static_cast<std::size_t>(count * columns));
  if (rows == 0 || columns == 0) return values; // no storage to read from; the same answer on every rank
  select_rows(space.get(), rank, offset, count, columns);
  Handle memory = memory_space(space.get(), rank, count, columns);
  Handle transfer = transfer_for(parent);
  T placeholder{};
  // Each rank reads its own chunks, so a damaged one may fail on one rank only.
  agreed(parent, [&] {
    check_read(H5Dread(dataset.get(), Native<T>::memory(), memory.get(), space.get(), transfer.get(),
                       values.empty() ? &placeholder : values.data()),
               parent, "dataset '" + name + "'");
  });
  return values;
}

template <class T>
std::vector<T> read_all(hid_t parent, const std::string& name) {
  const std::vector<std::int64_t> dims = shape(parent, name);
  return read_rows<T>(parent, name, 0, dims.empty() ? 0 : dims[0]);
}

std::vector<std::int64_t> block_chunk(MPI_Comm comm, const std::vector<std::int64_t>& offset,
                                      const std::vector<std::int64_t>& count) {
  const std::size_t rank = offset.size();
  std::vector<std::int64_t> mine(offset);
  mine.insert(mine.end(), count.begin(), count.end());
  std::vector<std::int64_t> all(mine.size() * static_cast<std::size_t>(mpi::size(comm)));
  mpi::check(MPI_Allgather(mine.data(), static_cast<int>(mine.size()), MPI_INT64_T, all.data(),
                           static_cast<int>(mine.size()), MPI_INT64_T, comm),
             "MPI_Allgather");
  std::vector<std::int64_t> chunk(rank, 0);
  for (std::size_t r = 0; r < all.size(); r += mine.size())
    for (std::size_t d = 0; d < rank; ++d)
      chunk[d] = std::gcd(chunk[d], std::gcd(all[r + d], all[r + rank + d]));
  for (auto& c : chunk)
    c = std::max<std::int64_t>(c, 1);
  return chunk;
}

void write_block(hid_t parent, const std::string& name, const double* data,
                 const std::vector<std::int64_t>& dims, const std::vector<std::int64_t>& offset,
                 const std::vector<std::int64_t>& count, const std::vector<std::int64_t>& chunk) {
  const std::size_t rank = dims.size();
  if (rank == 0 || offset.size() != rank || count.size() != rank || chunk.size() != rank)
    throw runtime_error("h5::write_block(" + name + "): dims, offset, count and chunk differ in rank");
  std::vector<hsize_t> extent(rank), start(rank), n(rank), chunks(rank);
  hsize_t elements = 1;
  for (std::size_t d = 0; d < rank; ++d) {
    if (offset[d] < 0 || count[d] < 0 || offset[d] + count[d] > dims[d] || chunk[d] < 1)
      throw runtime_error("h5::write_block(" + name + "): the block does not fit in the dataset");
    extent[d] = static_cast<hsize_t>(dims[d]);
    start[d] = static_cast<hsize_t>(offset[d]);
    n[d] = static_cast<hsize_t>(count[d]);
    chunks[d] = static_cast<hsize_t>(chunk[d]);
    elements *= n[d];
  }
  Handle space(
      check_id(H5Screate_simple(static_cast<int>(rank), extent.data(), nullptr), "H5Screate_simple"));
  Handle dcpl = checksummed_layout(extent, chunks, sizeof(double));
  Handle dataset = create_dataset(parent, name, Native<double>::file(), space.get(), dcpl.get());
  if (elements == 0) {
    check(H5Sselect_none(space.get()), "H5Sselect_none");
  } else {
    check(H5Sselect_hyperslab(space.get(), H5S_SELECT_SET, start.data(), nullptr, n.data(), nullptr),
          "H5Sselect_hyperslab");
  }
  Handle memory(check_id(H5Screate_simple(static_cast<int>(rank), n.data(), nullptr), "H5Screate_simple"));
  if (elements == 0) check(H5Sselect_none(memory.get()), "H5Sselect_none");
  const double placeholder = 0; // HDF5 rejects a null buffer even when nothing is selected
  write_and_close(parent, name, dataset, Native<double>::memory(), memory.get(), space.get(),
                  elements == 0 ? &placeholder : data);
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
  Handle dcpl = checksummed_layout(extent, std::vector<hsize_t>(chunk.begin(), chunk.end()), sizeof(T));
  Handle dataset = create_dataset(parent, name, Native<T>::file(), space.get(), dcpl.get());
  if (total == 0) return;
  write_and_close(parent, name, dataset, Native<T>::memory(), H5S_ALL, H5S_ALL, data);
}

template <class T>
std::vector<T> read_array(hid_t parent, const std::string& name, std::vector<std::int64_t>& dims) {
  dims = shape(parent, name);
  Handle dataset = open_dataset(parent, name);
  Handle type(check_id(H5Dget_type(dataset.get()), "H5Dget_type"));
  require_class(parent, name, type.get(), Native<T>::number_class,
                Native<T>::number_class == H5T_FLOAT ? "floating point" : "integer");
  std::int64_t total = 1;
  double claimed = static_cast<double>(H5Tget_size(type.get()));
  for (std::int64_t d : dims) {
    total *= d;
    claimed *= static_cast<double>(d);
  }
  require_stored(parent, name, dataset.get(), claimed);
  std::vector<T> values(static_cast<std::size_t>(total));
  if (total == 0) return values;
  Handle transfer = transfer_for(parent);
  check_read(H5Dread(dataset.get(), Native<T>::memory(), H5S_ALL, H5S_ALL, transfer.get(), values.data()),
             parent, "dataset '" + name + "'");
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
    check(H5Pset_fletcher32(dcpl.get()), "H5Pset_fletcher32"); // as every dataset: see checksummed_layout
    dataset = create_dataset(parent, name, types.file.get(), space.get(), dcpl.get());
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
  agreed(parent,
         [&] { check_write(H5Dset_extent(dataset.get(), extent), parent, "H5Dset_extent(" + name + ")"); });
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
  write_and_close(parent, name, dataset, types.memory.get(), memory.get(), space.get(), values.data());
}

template <class T>
std::vector<T> read_table(hid_t parent, const std::string& name) {
  const TableTypes types = table_types(static_cast<const T*>(nullptr));
  Handle dataset = open_dataset(parent, name);
  Handle space(check_id(H5Dget_space(dataset.get()), "H5Dget_space"));
  if (H5Sget_simple_extent_ndims(space.get()) != 1)
    throw input_error(describe(parent) + ": dataset '" + name + "' is not a 1-D table");
  hsize_t rows = 0;
  check(H5Sget_simple_extent_dims(space.get(), &rows, nullptr), "H5Sget_simple_extent_dims");
  std::vector<T> values(static_cast<std::size_t>(rows));
  if (rows == 0) return values;
  Handle transfer = transfer_for(parent);
  agreed(parent, [&] {
    check_read(H5Dread(dataset.get(), types.memory.get(), H5S_ALL, H5S_ALL, transfer.get(), values.data()),
               parent, "dataset '" + name + "'");
  });
  return values;
}

void truncate_table(hid_t parent, const std::string& name, std::int64_t rows) {
  Handle dataset = open_dataset(parent, name);
  const hsize_t extent[1] = {static_cast<hsize_t>(rows)};
  agreed(parent,
         [&] { check_write(H5Dset_extent(dataset.get(), extent), parent, "H5Dset_extent(" + name + ")"); });
}

template void append<std::int64_t>(hid_t, const std::string&, const std::vector<std::int64_t>&, std::int64_t);
template void append<StepTime>(hid_t, const std::string&, const std::vector<StepTime>&, std::int64_t);
template std::vector<std::int64_t> read_table<std::int64_t>(hid_t, const std::string&);
template std::vector<StepTime> read_table<StepTime>(hid_t, const std::string&);

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
  const std::vector<hsize_t> extent{values.size()};
  Handle space(check_id(H5Screate_simple(1, extent.data(), nullptr), "H5Screate_simple"));
  Handle dcpl = checksummed_layout(extent, {}, width);
  Handle dataset = create_dataset(parent, name, type.get(), space.get(), dcpl.get());
  std::vector<char> buffer(values.size() * width + 1, '\0');
  for (std::size_t i = 0; i < values.size(); ++i)
    std::memcpy(buffer.data() + i * width, values[i].data(), values[i].size());
  if (values.empty()) return; // as in write_rows: nothing to store, and HDF5 would fail to write nothing
  // Every rank holds the same names; one writer avoids overlapping writes of the same bytes.
  if (file_rank(parent) != 0) check(H5Sselect_none(space.get()), "H5Sselect_none");
  write_and_close(parent, name, dataset, type.get(), space.get(), space.get(), buffer.data());
}

std::vector<std::string> read_strings(hid_t parent, const std::string& name) {
  Handle dataset = open_dataset(parent, name);
  Handle type(check_id(H5Dget_type(dataset.get()), "H5Dget_type"));
  require_class(parent, name, type.get(), H5T_STRING, "text");
  Handle space(check_id(H5Dget_space(dataset.get()), "H5Dget_space"));
  if (H5Sget_simple_extent_ndims(space.get()) != 1)
    throw input_error(describe(parent) + ": dataset '" + name + "' is not a 1-D list of strings");
  const auto count = static_cast<std::size_t>(H5Sget_simple_extent_npoints(space.get()));
  require_stored(parent, name, dataset.get(),
                 static_cast<double>(count) * static_cast<double>(H5Tget_size(type.get())));
  Handle transfer = transfer_for(parent);
  std::vector<std::string> values;
  values.reserve(count);
  if (count == 0) return values;
  const htri_t variable = H5Tis_variable_str(type.get());
  check(variable, "H5Tis_variable_str");
  if (variable > 0) {
    StoredStringReader reader(parent, "dataset '" + name + "'");
    Handle memory = raw_heap_id_type(reader.stored_size());
    std::vector<unsigned char> stored(count * reader.stored_size());
    check_read(H5Dread(dataset.get(), memory.get(), H5S_ALL, H5S_ALL, transfer.get(), stored.data()), parent,
               "dataset '" + name + "'");
    for (std::size_t i = 0; i < count; ++i)
      values.push_back(reader.read(&stored[i * reader.stored_size()]));
    return values;
  }
  const std::size_t width = H5Tget_size(type.get());
  std::vector<char> buffer(count * width + 1, '\0');
  check_read(H5Dread(dataset.get(), type.get(), H5S_ALL, H5S_ALL, transfer.get(), buffer.data()), parent,
             "dataset '" + name + "'");
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
  Handle dataset = create_dataset(parent, name, type.get(), space.get(), H5P_DEFAULT);
  write_and_close(parent, name, dataset, type.get(), H5S_ALL, H5S_ALL, value.c_str());
}

} // namespace tessera::h5
