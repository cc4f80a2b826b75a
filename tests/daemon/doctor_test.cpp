#include <doctest/doctest.h>

#include "daemon/doctor.h"
#include "daemon/sqlite.h"
#include "daemon_support.h"

namespace lrb::daemon {

namespace {

using testing::BrokerFixture;
using testing::make_ad;
using testing::make_request;

// Runs `sql` on the fixture's database through a second connection, as
// a damaged or hand-edited database would look.
void tamper(BrokerFixture& f, const std::string& sql) {
  SqliteDb db(f.dir.file("lrb.db"), false, 1000);
  db.exec(sql);
}

bool has_error(const DoctorReport& report, const std::string& object,
               const std::string& words) {
  for (const auto& f : report.findings) {
    if (f.error && f.object == object &&
        f.message.find(words) != std::string::npos) {
      return true;
    }
  }
  return false;
}

} // namespace

TEST_CASE("a consistent store is clean") {
  BrokerFixture f;
  f.advertise(make_ad("paris", 64, 256), make_ad("berlin", 64, 256));
  for (int i = 0; i < 3; ++i) {
    f.broker->create(f.ctx, make_request("rome", 4, 8), "");
  }
  auto report = check_store(*f.store);
  CHECK(report.clean());
  CHECK(report.findings.empty());
  CHECK(report.clusters == 2);
  CHECK(report.reservations == 3);
  CHECK(report.holding == 3);
  auto json = encode_report(report);
  CHECK(json["ok"] == true);
  CHECK(json["findings"].empty());
}

TEST_CASE("a reserved total that disagrees with the reservations is found") {
  BrokerFixture f;
  f.advertise(make_ad("paris", 64, 256));
  f.broker->create(f.ctx, make_request("rome", 4, 8), "");
  // The lock holds 4 cores (4000m); the row now claims 3.
  tamper(f, "UPDATE clusters SET reserved_cpu_milli = 3000");
  auto report = check_store(*f.store);
  CHECK_FALSE(report.clean());
  CHECK(has_error(report, "cluster/paris", "reserved cpu is 3"));
  CHECK(has_error(report, "cluster/paris", "hold 4"));
  CHECK(encode_report(report)["findings"][0]["severity"] == "error");
}

TEST_CASE("dangling references are found") {
  BrokerFixture f;
  f.advertise(make_ad("paris", 64, 256));
  auto id =
      f.broker->create(f.ctx, make_request("rome", 4, 8), "k").reservation.id;
  tamper(f, "DELETE FROM clusters WHERE id = 'paris'");
  tamper(f, "INSERT INTO idempotency VALUES ('rome', 'lost', 'r-gone', 1)");
  auto report = check_store(*f.store);
  CHECK(has_error(report, "reservation/" + id, "paris does not exist"));
  CHECK(has_error(report, "idempotency/rome", "r-gone"));

  tamper(f, "UPDATE reservations SET expires_at = NULL");
  CHECK(has_error(check_store(*f.store), "reservation/" + id, "lease end"));
}

TEST_CASE("an overcommitted provider is a warning, not a failure") {
  BrokerFixture f;
  f.advertise(make_ad("paris", 64, 256));
  f.broker->create(f.ctx, make_request("rome", 4, 8), "");
  // The provider's own pods took everything: 2 cores left, 4 reserved.
  auto ad = make_ad("paris", 64, 256, 0.03, 0.004, 2);
  ad.resources.available = testing::cores_gib(2, 256);
  f.broker->advertise(f.ctx, ad);
  auto report = check_store(*f.store);
  CHECK(report.clean());
  REQUIRE(report.findings.size() == 1);
  CHECK_FALSE(report.findings[0].error);
  CHECK(report.findings[0].message.find("overcommitted") != std::string::npos);
  // free clamps at zero rather than going negative.
  CHECK(f.broker->cluster("paris").free.get(core::Slot::cpu) == 0);
}

} // namespace lrb::daemon
