#include "macvmorx/agent/tart_backend.hpp"

#include "macvmorx/agent/bucket_images.hpp"
#include "macvmorx/agent/oci_name.hpp"
#include "macvmorx/agent/registry_client.hpp"
#include "macvmorx/agent/tart_output.hpp"
#include "macvmorx/object_store/gcs_reader.hpp"
#include "macvmorx/object_store/s3_reader.hpp"
#include "macvmorx/protocol/image_source.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <set>

namespace macvmorx::agent {
namespace {

// Every tart the agent runs: the agent's image cache decides what is deleted, not tart's own
// pruning before a pull or a clone (Commands/Prune.swift's reclaimIfNeeded).
const std::vector<std::string> tart_environment{"TART_NO_AUTO_PRUNE=1"};

// The reader of a bucket image's store, with the settings of the agent's environment as the
// store's own tools read them (s3_settings.hpp, gcs_settings.hpp), read anew for each download.
std::unique_ptr<object_store::ObjectReader> bucket_reader(const std::string& image) {
    static const SystemClock clock;
    const auto environment = [](const char* name) { return std::getenv(name); };
    if (protocol::image_source(image).kind == protocol::ImageSource::Kind::gcs) {
        return std::make_unique<object_store::GcsReader>(object_store::gcs_settings(environment), clock);
    }
    return std::make_unique<object_store::S3Reader>(object_store::s3_settings(environment), clock);
}

std::string credentials_hint(const std::string& image) {
    return " (the registry wants credentials for " + image +
           ": give the agent TART_REGISTRY_USERNAME and TART_REGISTRY_PASSWORD in its environment; the keychain of "
           "`tart login` is out of a launchd daemon's reach, docs/agent.md)";
}

} // namespace

TartBackend::TartBackend(boost::asio::io_context& ioc, TartOptions options, std::shared_ptr<RegistryClient> registry)
    : ioc_{ioc}, options_{std::move(options)}, registry_{std::move(registry)}, processes_{ioc} {
    if (options_.vm_log_dir.empty()) {
        options_.vm_log_dir = (std::filesystem::temp_directory_path() / "macvmorx-vm-logs").string();
    }
    if (options_.image_download_dir.empty()) {
        options_.image_download_dir = (std::filesystem::temp_directory_path() / "macvmorx-image-downloads").string();
    }
    BucketImageOptions bucket_options;
    bucket_options.download_dir = options_.image_download_dir;
    bucket_options.keep_seeds = options_.keep_image_seeds;
    bucket_options.find_peers = options_.find_image_peers;
    buckets_ = std::make_unique<BucketImages>(ioc_, std::move(bucket_options), bucket_reader);
    std::error_code failed;
    std::filesystem::create_directories(options_.vm_log_dir, failed);
    std::filesystem::permissions(options_.vm_log_dir, std::filesystem::perms::owner_all,
                                 std::filesystem::perm_options::replace, failed);
    if (failed) spdlog::warn("agent: cannot make the folder for VM logs {}: {}", options_.vm_log_dir, failed.message());
}

TartBackend::~TartBackend() = default;

ProcessSpec TartBackend::tart(std::vector<std::string> arguments, Duration timeout) const {
    arguments.insert(arguments.begin(), options_.tart);
    ProcessSpec spec{std::move(arguments), {}, timeout, {}};
    spec.environment = tart_environment;
    return spec;
}

void TartBackend::run(std::vector<std::string> argv, Duration timeout, ProcessRunner::Done done,
                      std::function<void(const std::string&)> on_output) {
    ProcessSpec spec{std::move(argv), {}, timeout, std::move(on_output)};
    spec.environment = tart_environment;
    processes_.start(std::move(spec), std::move(done));
}

std::string TartBackend::log_file(const std::string& vm_name, const char* what) const {
    return (std::filesystem::path{options_.vm_log_dir} / (vm_name + "." + what + ".log")).string();
}

// ---------------------------------------------------------------------------------------------
// Images

std::string TartBackend::tart_name(const std::string& image) const {
    const auto source = protocol::image_source(image);
    return source.in_bucket() ? protocol::local_vm_name(source) : image;
}

void TartBackend::pull_image(const std::string& image, Progress progress, Done done) {
    if (protocol::image_source(image).in_bucket()) return pull_from_bucket(image, std::move(progress), std::move(done));
    progress(0, "pulling " + image);
    // tart's percentages come line by line while it pulls; a line may arrive in two pieces.
    auto meter = [progress, image, partial = std::string{}](const std::string& piece) mutable {
        partial += piece;
        std::size_t start = 0;
        for (std::size_t newline; (newline = partial.find('\n', start)) != std::string::npos; start = newline + 1) {
            const auto percent = pull_percent(std::string_view{partial}.substr(start, newline - start));
            // Done only when tart exits: the image is not usable before.
            if (percent) progress(std::min(*percent, 99) / 100.0, "pulling " + image + ": " + std::to_string(*percent) + "%");
        }
        partial.erase(0, start);
        if (partial.size() > 4096) partial.clear(); // not a meter: a line that long says nothing of progress
    };
    run({options_.tart, "pull", image}, options_.pull_timeout,
        [this, image, done = std::move(done)](ProcessResult result) {
            if (!result.ok()) {
                std::string why = result.describe("tart pull " + image);
                if (is_registry_auth_error(result.errors + result.output)) why += credentials_hint(image);
                return done(Outcome::failure(std::move(why)));
            }
            // The size is learnt from `tart list`.
            inventory([done](Outcome, Inventory) { done(Outcome::success()); });
        },
        std::move(meter));
}

// The object is downloaded and verified (BucketImages), then becomes a local VM under the
// object's local name (tart takes no '/' there, Commands/Import.swift): a VM archive (`tart
// export`) is imported, a restore image (.ipsw) installed into a new VM (`tart create
// --from-ipsw`, Commands/Create.swift). The download is deleted: the local VM is what the cache
// holds and VMs clone.
void TartBackend::pull_from_bucket(const std::string& image, Progress progress, Done done) {
    buckets_->download(image, progress, [this, image, progress, done = std::move(done),
                                         alive = std::weak_ptr<bool>(alive_)](Outcome outcome, std::string download) {
        if (!alive.lock()) return;
        if (!outcome.ok) return done(std::move(outcome));
        const std::string local = tart_name(image);
        const bool restore_image = protocol::is_restore_image(protocol::image_source(image));
        progress(0.99, (restore_image ? "installing macOS from " : "importing ") + image + " as " + local);
        std::vector<std::string> command = restore_image
                                               ? std::vector<std::string>{options_.tart, "create", local, "--from-ipsw", download}
                                               : std::vector<std::string>{options_.tart, "import", download, local};
        const std::string what = restore_image ? "tart create --from-ipsw " + image : "tart import " + image;
        run(std::move(command), options_.pull_timeout, [this, image, local, download, what, done](ProcessResult result) {
            // Kept for the lab's peers when this Mac serves them (deleted with the image), else gone.
            if (!result.ok() || !options_.keep_image_seeds) {
                std::error_code ignored;
                std::filesystem::remove(download, ignored);
                std::filesystem::remove(download + ".manifest.json", ignored);
            }
            if (!result.ok()) return done(Outcome::failure(result.describe(what)));
            buckets_->remember(local, image);
            // The size is learnt from `tart list`.
            inventory([done](Outcome, Inventory) { done(Outcome::success()); });
        });
    });
}

void TartBackend::delete_image(const std::string& image, Done done) {
    // Deleting a tag deletes the digest it links to when nothing else links there, and the other
    // way round (VMStorageOCI.swift's delete and gc): the image goes whole.
    const std::string name = tart_name(image);
    run({options_.tart, "delete", name}, options_.command_timeout, [this, image, name, done = std::move(done)](ProcessResult result) {
        if (!result.ok()) return done(Outcome::failure(result.describe("tart delete " + name)));
        image_sizes_.erase(image_key(image));
        buckets_->forget(name);
        done(Outcome::success());
    });
}

std::optional<SeedFiles> TartBackend::image_seed(const std::string& image) const { return buckets_->seed(image); }

double TartBackend::image_size_gb(const std::string& image) const {
    const auto it = image_sizes_.find(image_key(image));
    return it == image_sizes_.end() ? 0 : it->second;
}

void TartBackend::expected_size_gb(const std::string& image, std::function<void(double)> done) {
    // A bucket object's archive is compressed: its size does not tell the imported VM's.
    const bool from_registry = registry_ && !protocol::image_source(image).in_bucket();
    if (const double held = image_size_gb(image); held > 0 || !from_registry) {
        return boost::asio::post(ioc_, [done = std::move(done), held] { done(held); });
    }
    // Answered on the registry client's thread: back to ours, unless this backend is gone by then.
    registry_->image_size_gb(image, [&ioc = ioc_, alive = std::weak_ptr<bool>(alive_), done = std::move(done)](double size) mutable {
        boost::asio::post(ioc, [alive, done = std::move(done), size] {
            if (alive.lock()) done(size);
        });
    });
}

// ---------------------------------------------------------------------------------------------
// A VM's end

// `tart run` exits 0 whether the guest shut down or the VM stopped by an error (Run.swift after
// VM.swift's delegate): what it printed, and whether the runner had finished, tell them apart.
void TartBackend::run_ended(const std::string& vm_name, const ProcessResult& result) {
    const auto it = running_.find(vm_name);
    if (it == running_.end()) return;
    Running& vm = it->second;
    vm.run = 0;
    vm.run_ended = true;
    vm.run_said = result.output + result.errors;
    // Ended while booting (refused, crashed): no address will come.
    if (vm.booting != 0) processes_.kill(vm.booting);
    if (!vm.started || vm.deleting) return;
    if (vm.guest != 0) processes_.kill(vm.guest);
    if (const auto crash = vm_crash_in(vm.run_said)) return ended(vm_name, Outcome::failure("tart run " + vm_name + ": " + *crash));
    if (!result.ok()) return ended(vm_name, Outcome::failure(result.describe("tart run " + vm_name)));
    if (vm.guest_at_work) {
        return ended(vm_name, Outcome::failure("the VM shut down before its runner finished (tart run " + vm_name +
                                               " exited " + std::to_string(result.exit_code) + ")"));
    }
    ended(vm_name, Outcome::success()); // the guest shut down, and nothing was at work in it
}

void TartBackend::guest_ended(const std::string& vm_name, const ProcessResult& result) {
    const auto it = running_.find(vm_name);
    if (it == running_.end()) return;
    it->second.guest = 0;
    if (it->second.deleting || result.killed) {
        it->second.guest_at_work = false;
        return;
    }
    spdlog::info("VM {}: {}", vm_name, result.describe("the guest's command"));
    if (result.exit_code == ssh_connection_failed) {
        // The guest went away under its runner: `tart run`'s end, a moment later, says whether
        // it crashed or shut down. Only if the VM goes on is the lost connection the news.
        auto wait = std::make_shared<boost::asio::steady_timer>(ioc_, std::chrono::seconds{3});
        wait->async_wait([this, wait, vm_name, said = last_line_of(result.output),
                          alive = std::weak_ptr<bool>(alive_)](boost::system::error_code ec) {
            if (ec || !alive.lock()) return;
            const auto vm = running_.find(vm_name);
            if (vm == running_.end()) return;
            vm->second.guest_at_work = false;
            ended(vm_name, Outcome::failure("lost the SSH connection to the guest while its command ran: " + said));
        });
        return;
    }
    it->second.guest_at_work = false;
    if (result.ok()) return ended(vm_name, Outcome::success()); // the runner did its one job
    // 255 is ssh's own failure (ssh(1), EXIT STATUS); any other status is the runner's.
    if (it->second.runner && result.exit_code > 0 && result.exit_code != 255) {
        std::string reason = runner_exit_reason(result.exit_code);
        if (const auto said = last_line_of(result.output); !said.empty()) reason += ": " + said;
        return ended(vm_name, Outcome::failure(reason));
    }
    ended(vm_name, Outcome::failure(result.describe("the command in the guest")));
}

// The VM stopped, or its command exited: tell the agent once, unless it is being deleted.
void TartBackend::ended(const std::string& vm_name, const Outcome& how) {
    const auto it = running_.find(vm_name);
    if (it == running_.end() || it->second.deleting || !it->second.started) return;
    if (!how.ok) spdlog::warn("VM {} stopped on its own: {}", vm_name, how.message);
    it->second.deleting = true; // the agent deletes it next
    if (exit_handler_) exit_handler_(vm_name, how);
}

void TartBackend::adopt_vm(const std::string& vm_name, bool watch_runner, Started done) {
    running_[vm_name].deleting = false;
    run({options_.tart, "ip", vm_name}, options_.command_timeout,
        [this, vm_name, watch_runner, done = std::move(done)](ProcessResult result) {
            const auto it = running_.find(vm_name);
            if (it == running_.end() || it->second.deleting) return done(Outcome::failure("deleted meanwhile"), {});
            if (!result.ok()) return done(Outcome::failure(result.describe("tart ip " + vm_name)), {});
            StartedVm started{last_line_of(result.output), vm_name, GuestCommand::nothing};
            it->second.started = true;
            if (watch_runner) {
                started.guest = GuestCommand::runner;
                run_in_guest(vm_name, started.ip_address, options_.watch_command, {}, false);
            }
            done(Outcome::success(), std::move(started));
        });
}

void TartBackend::delete_vm(const std::string& vm_name, Done done) {
    ++deletions_[vm_name].under_way;
    auto& vm = running_[vm_name];
    vm.deleting = true;
    if (vm.guest != 0) processes_.kill(vm.guest);
    if (vm.booting != 0) processes_.kill(vm.booting);
    run({options_.tart, "stop", vm_name}, options_.command_timeout, [this, vm_name, done = std::move(done)](ProcessResult) {
        // Stopping a VM that is not running fails: only the deletion decides.
        run({options_.tart, "delete", vm_name}, options_.command_timeout, [this, vm_name, done](ProcessResult deleted) {
            const auto it = running_.find(vm_name);
            if (it != running_.end() && it->second.run != 0) processes_.kill(it->second.run);
            running_.erase(vm_name);
            // RuntimeError.VMDoesNotExist (VMStorageHelper.swift): gone already.
            const bool gone = deleted.ok() || (deleted.errors + deleted.output).find("does not exist") != std::string::npos;
            if (gone) {
                std::error_code ignored;
                std::filesystem::remove(log_file(vm_name, "run"), ignored);
                std::filesystem::remove(log_file(vm_name, "guest"), ignored);
            }
            done(gone ? Outcome::success() : Outcome::failure(deleted.describe("tart delete " + vm_name)));
            deletion_done(vm_name);
        });
    });
}

void TartBackend::deletion_done(const std::string& vm_name) {
    const auto it = deletions_.find(vm_name);
    if (it == deletions_.end() || --it->second.under_way > 0) return;
    const auto waiting = std::move(it->second.waiting);
    deletions_.erase(it);
    for (const auto& start : waiting) start();
}

// ---------------------------------------------------------------------------------------------
// What the host holds

// `tart list` shows each pulled image twice, its tag and the digest the tag links to, each with
// the whole size (VMStorageOCI.swift): one image, under its tag. `tart fqn TAG` names the digest.
void TartBackend::inventory(std::function<void(Outcome, Inventory)> done) {
    run({options_.tart, "list", "--format", "json"}, options_.command_timeout, [this, done = std::move(done)](ProcessResult result) {
        if (!result.errors.empty()) spdlog::warn("tart list said: {}", last_line_of(result.errors));
        if (!result.ok()) return done(Outcome::failure(result.describe("tart list")), {});
        const auto entries = parse_tart_list(result.output);
        if (!entries) {
            return done(Outcome::failure("tart list --format json printed no JSON list: " +
                                         last_line_of(result.output).substr(0, 200)),
                        {});
        }
        Inventory inventory;
        std::vector<std::string> tags;
        std::map<std::string, bool> digests; // digest name -> linked from a tag
        for (const auto& entry : *entries) {
            if (const auto image = entry.oci ? std::nullopt : buckets_->image_of(entry.name)) {
                // A local VM imported from a bucket: the image it stands for.
                image_sizes_[image_key(*image)] = entry.size_gb;
                inventory.images.push_back({*image, entry.size_gb});
                continue;
            }
            if (!entry.oci) {
                inventory.vms.push_back({entry.name, entry.running});
                continue;
            }
            image_sizes_[image_key(entry.name)] = entry.size_gb;
            if (is_digest_name(entry.name)) {
                digests.emplace(entry.name, false);
            } else {
                tags.push_back(entry.name);
                inventory.images.push_back({entry.name, entry.size_gb});
            }
        }
        // Digests no tag links to were pulled by digest: images of their own.
        for (const auto& [digest, linked] : digests) inventory.images.push_back({digest, image_size_gb(digest)});
        if (tags.empty() || digests.empty()) return done(Outcome::success(), std::move(inventory));
        pair_tags(std::move(tags), std::move(digests), std::move(inventory), std::move(done));
    });
}

// Asks `tart fqn` for each tag's digest, one after the other, then drops from the inventory the
// digests that a tag links to.
void TartBackend::pair_tags(std::vector<std::string> tags, std::map<std::string, bool> digests, Inventory inventory,
                            std::function<void(Outcome, Inventory)> done) {
    if (tags.empty()) {
        std::erase_if(inventory.images, [&digests](const HostImage& image) {
            const auto it = digests.find(image.name);
            return it != digests.end() && it->second;
        });
        return done(Outcome::success(), std::move(inventory));
    }
    const std::string tag = tags.back();
    tags.pop_back();
    run({options_.tart, "fqn", tag}, options_.command_timeout,
        [this, tag, tags = std::move(tags), digests = std::move(digests), inventory = std::move(inventory),
         done = std::move(done)](ProcessResult result) mutable {
            if (result.ok()) {
                if (const auto it = digests.find(last_line_of(result.output)); it != digests.end()) it->second = true;
            } else {
                // No answer (an older tart): a digest of the tag's repository counts as its.
                const auto name = parse_oci_name(tag);
                for (auto& [digest, linked] : digests) {
                    const auto other = parse_oci_name(digest);
                    if (name && other && other->host == name->host && other->name == name->name) linked = true;
                }
            }
            pair_tags(std::move(tags), std::move(digests), std::move(inventory), std::move(done));
        });
}

void TartBackend::on_vm_exit(Exited handler) { exit_handler_ = std::move(handler); }

} // namespace macvmorx::agent
