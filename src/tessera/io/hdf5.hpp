// The HDF5 adapter: the one place tessera calls the HDF5 C API. Failed calls become tessera::Error naming the
// call and HDF5's own error stack; every hid_t is an RAII Handle; typed helpers cover what outputs need.
#pragma once

#include "tessera/core/error.hpp"

#include <hdf5.h>
#include <mpi.h>

#include <cstdint>
#include <string>
#include <vector>

namespace tessera::h5 {

// Bytes free to an unprivileged writer in the folder that holds (or will hold) the file `path`, or -1 when
// the file system does not say. Writers check it before a collective write: HDF5 1.10 can hang one that fills
// the disk on some ranks.
long long available_bytes_beside(const std::string& path);

// Turns off HDF5's printing of its error stack to stderr; check() reports the stack in the exception instead.
// Idempotent; the File factories call it.
void silence_errors();

// How failures are reported (SPEC §5). A read that fails (a missing or damaged object, a checksum that does
// not match) is an input_error naming the file, the object and what was read: the file is the user's input.
// A write, flush or close that fails is a runtime_error naming the file, and says "no space left on device"
// when that is the cause. In a parallel file every write, flush, close and dataset read is agreed by all
// ranks (mpi::agree) before the call returns, so a failure on some ranks is the same error on every rank and
// no rank goes on into the next collective call.

// True once a file could not be closed (its H5Fclose failed) or a parallel file saw a failed write (its
// ranks' HDF5 states then differ, so it is not closed at all). HDF5 1.10 keeps the ID of a file whose close
// failed pointing at freed memory and closes it again when MPI_Finalize terminates the library (a crash), and
// a parallel close would hang: the process must then end with MPI_Abort instead of MPI_Finalize.
bool unclosable_files();

// Throws runtime_error("<call> failed: <HDF5 error stack>") when rc is negative.
void check(herr_t rc, const char* call);
// As check(), and returns the id so a call can be wrapped in place.
hid_t check_id(hid_t id, const char* call);

// Owns one HDF5 identifier of any kind (file, group, dataset, dataspace, datatype, property list) and
// releases it with H5Idec_ref. Closing a parallel file is collective, so a File's handles must die on every
// rank.
class Handle {
public:
  Handle() = default;
  explicit Handle(hid_t id) : id_(id) {}
  ~Handle();
  Handle(Handle&& other) noexcept : id_(other.id_) { other.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& other) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  void reset();    // releases now; a no-op when empty
  hid_t release(); // gives up ownership without closing

private:
  hid_t id_ = H5I_INVALID_HID;
};

// An open HDF5 file. A missing, unreadable or non-HDF5 file is an input_error naming the path.
// A file made by create() that is destroyed without a successful close() (an exception on the way) is
// removed, so a failed write never leaves a half-written file behind.
class File {
public:
  File() = default;
  ~File();
  File(File&& other) noexcept;
  File& operator=(File&& other) noexcept;
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  // Collective on comm. Creates `path` for parallel (MPI-IO) writing; refuses to replace an existing file.
  static File create_parallel(MPI_Comm comm, const std::string& path);
  // Creates `path` for serial writing (tests, converters); refuses to replace an existing file.
  static File create(const std::string& path);
  // Opens `path` read-only on this process alone.
  static File open_read(const std::string& path);
  // Opens an existing `path` for reading and writing on this process alone (adding attributes to a closed
  // output, say).
  static File open_append(const std::string& path);
  // Collective on comm. Opens `path` read-only through MPI-IO; dataset reads are then collective.
  static File open_read_parallel(MPI_Comm comm, const std::string& path);
  // Collective on comm. Opens an existing `path` for reading and writing through MPI-IO (a restarted run
  // appends its steps); a missing or non-HDF5 file is an input_error naming it.
  static File open_append_parallel(MPI_Comm comm, const std::string& path);

  hid_t get() const { return file_.get(); }
  bool valid() const { return file_.valid(); }
  const std::string& path() const { return path_; }
  bool parallel() const { return parallel_; }

  // Collective for a parallel file. Pushes everything written so far to disk, so it survives a later crash.
  void flush();
  // Collective for a parallel file. Closes now and reports failure (the destructor cannot). Every group,
  // dataset and attribute of the file must be closed first: HDF5 would otherwise only drop a reference, and
  // the real flush would happen later where its failure cannot be reported (a runtime_error says so).
  void close();

private:
  File(Handle file, std::string path, bool parallel, bool remove_unless_closed)
      : file_(std::move(file)), path_(std::move(path)), parallel_(parallel),
        remove_unless_closed_(remove_unless_closed) {}
  void close_now();

  Handle file_;
  std::string path_;
  bool parallel_ = false;
  bool remove_unless_closed_ = false; // created by create(): removed unless close() succeeded
};

// "run/tessera.h5:/steps/0/id" — where an object lives, for error messages.
std::string describe(hid_t object);

// ---- Groups and links
// --------------------------------------------------------------------------------------- In a parallel file
// every creating call below is collective and must get the same arguments on every rank.

Handle create_group(hid_t parent, const std::string& name);
// A group that tracks and indexes the order its links were created in, so that h5py and H5Literate by
// creation order list them as written ("20" before "100"), not by name.
Handle create_ordered_group(hid_t parent, const std::string& name);
Handle open_group(hid_t parent, const std::string& name);
// True when every component of the slash-separated `path` below `parent` exists.
bool exists(hid_t parent, const std::string& path);
// Names of the links in a group, in name order.
std::vector<std::string> children(hid_t group);
// Removes the link `name` below `parent` (a step a restarted run writes again). Collective in a parallel
// file. The space it held is not returned to the file system.
void remove_link(hid_t parent, const std::string& name);
// Opens the group or dataset `name` below `parent` (to read its attributes); missing is an input_error.
Handle open_object(hid_t parent, const std::string& name);
// True when an open object is a group (false for a dataset).
bool is_group(hid_t object);

// ---- Attributes (scalar; replaced when they already exist)
// -------------------------------------------------- Text is stored as variable-length UTF-8 so h5py reads it
// as str and its length is unlimited.

bool has_attribute(hid_t object, const std::string& name);
void write_text_attribute(hid_t object, const std::string& name, const std::string& value);
void write_int_attribute(hid_t object, const std::string& name, std::int64_t value);
void write_real_attribute(hid_t object, const std::string& name, double value);
// A missing attribute or one of another kind is an input_error naming the object.
std::string read_text_attribute(hid_t object, const std::string& name);
std::int64_t read_int_attribute(hid_t object, const std::string& name);
double read_real_attribute(hid_t object, const std::string& name);
// A boolean as h5py stores one (an int8 enum FALSE = 0, TRUE = 1), so numpy reads it as bool.
void write_bool_attribute(hid_t object, const std::string& name, bool value);
// A 1-D attribute of variable-length UTF-8 strings (AnnData's `column-order`).
void write_text_array_attribute(hid_t object, const std::string& name,
                                const std::vector<std::string>& values);

// What a file of tessera's says it is: the text root attribute `format` and the integer root attribute
// `version_attribute` ("version"; "format_version" in tessera.h5, whose `version` is tessera's own). A file
// without them or with other values is an input_error naming the file, the attribute, the value found and the
// one expected; `what` names the kind of file ("a tessera model file").
void require_format(const File& file, const std::string& what, const std::string& format,
                    const std::string& version_attribute, std::int64_t version);

// ---- Row-distributed datasets
// ------------------------------------------------------------------------------- A dataset of `total` rows,
// of which the calling rank holds rows [offset, offset + count).
struct Rows {
  std::int64_t offset = 0;
  std::int64_t count = 0;
  std::int64_t total = 0;
};

// Creates dataset `name` of shape [total] (or [total][columns]) under `parent` and writes this rank's rows
// from `data` (count, or count * columns, values row-major). In a parallel file this is collective with
// H5FD_MPIO_COLLECTIVE transfer; a rank with no rows still calls it. T: uint64, int64, int32, double.
// Every dataset tessera writes (here, write_array, write_strings) is chunked with HDF5's Fletcher-32 checksum
// filter, so a damaged byte in its data is a read error instead of a wrong value.
template <class T>
void write_rows(hid_t parent, const std::string& name, const T* data, Rows rows);
template <class T>
void write_rows(hid_t parent, const std::string& name, const T* data, Rows rows, std::int64_t columns);

// Creates the float64 dataset `name` of shape `dims` (row-major, last index fastest) under `parent` and
// writes this rank's block: `count` elements from `offset` along each dimension, from `data` (row-major over
// the block). Stored in chunks of `chunk` elements per dimension (with the checksum filter), which must be
// the same on every rank. Collective in a parallel file, with every rank's block (possibly empty) and the
// same dims.
void write_block(hid_t parent, const std::string& name, const double* data,
                 const std::vector<std::int64_t>& dims, const std::vector<std::int64_t>& offset,
                 const std::vector<std::int64_t>& count, const std::vector<std::int64_t>& chunk);

// Collective on comm. The chunk shape for write_block of blocks that tile a grid: per dimension the greatest
// common divisor of every rank's offset and count, so that chunks never straddle two ranks' blocks and every
// rank passes the same shape (equal blocks: the block itself).
std::vector<std::int64_t> block_chunk(MPI_Comm comm, const std::vector<std::int64_t>& offset,
                                      const std::vector<std::int64_t>& count);

// Shape of a dataset: one entry per dimension.
std::vector<std::int64_t> shape(hid_t parent, const std::string& name);
// "[3, 4]": a shape in an error message.
std::string shape_text(const std::vector<std::int64_t>& shape);
// Class of a dataset's elements (H5T_INTEGER, H5T_FLOAT, H5T_STRING, ...), for files whose writers choose it.
H5T_class_t type_class(hid_t parent, const std::string& name);
// Reads rows [offset, offset + count) of a 1-D or 2-D dataset (row-major). Collective in a parallel file.
// A dataset of another number class (integer vs. floating point) is an input_error naming it.
template <class T>
std::vector<T> read_rows(hid_t parent, const std::string& name, std::int64_t offset, std::int64_t count);
template <class T>
std::vector<T> read_all(hid_t parent, const std::string& name);

// ---- Extendible tables
// -------------------------------------------------------------------------------------- 1-D datasets that
// grow as steps are written. In a parallel file append is collective, every rank passes the same values and
// rank 0 writes them.

// A row of an index of output steps: a step number and its time.
struct StepTime {
  std::int64_t step = 0;
  double time = 0;
};

// Appends `values` at the end of the 1-D dataset `name` under `parent`, creating it first when absent
// (chunked by `chunk_rows`, unlimited). T: int64, or StepTime (stored as a compound of int64 `step` and
// float64 `time`, which numpy reads as a structured array).
template <class T>
void append(hid_t parent, const std::string& name, const std::vector<T>& values, std::int64_t chunk_rows);
// Every row of such a table (a missing or damaged one is an input_error naming it). Collective in a parallel
// file.
template <class T>
std::vector<T> read_table(hid_t parent, const std::string& name);
// Shortens such a table to its first `rows` rows (rows written after a checkpoint go). Collective in a
// parallel file.
void truncate_table(hid_t parent, const std::string& name, std::int64_t rows);

// ---- Whole arrays of any rank (serial files: converters, datasets)
// ----------------------------------------- Creates dataset `name` of shape `dims` and writes `data`
// (row-major, the product of dims values). A non-empty `chunk` (one entry per dimension) stores it chunked.
// T: uint64, int64, int32, double.
template <class T>
void write_array(hid_t parent, const std::string& name, const T* data, const std::vector<std::int64_t>& dims,
                 const std::vector<std::int64_t>& chunk = {});
// Reads a whole dataset of any rank (row-major); `dims` receives its shape. Another number class is an
// input_error naming it.
template <class T>
std::vector<T> read_array(hid_t parent, const std::string& name, std::vector<std::int64_t>& dims);

// A 1-D dataset of UTF-8 strings (gene and cell type names). Stored fixed-length, since parallel HDF5 1.10
// cannot write variable-length data. Collective in a parallel file: every rank passes the same values and
// rank 0 writes them.
void write_strings(hid_t parent, const std::string& name, const std::vector<std::string>& values);
// Reads fixed- or variable-length strings. Variable-length strings (here and in read_text_attribute) are
// read from the file's global heap by this adapter, which checks every length and offset against the heap
// collection it reads: a damaged heap is an input_error, never a read out of bounds.
std::vector<std::string> read_strings(hid_t parent, const std::string& name);
// A scalar dataset of one UTF-8 string (AnnData's `string` element: uns values). Serial files only.
void write_text(hid_t parent, const std::string& name, const std::string& value);

} // namespace tessera::h5
