#include "server/http/message.hpp"

#include <algorithm>
#include <cctype>
#include <future>

namespace server::http {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

namespace {
std::optional<std::string_view> find(const std::vector<header>& headers, std::string_view name) {
  for (const header& h : headers)
    if (iequals(h.name, name)) return std::string_view(h.value);
  return std::nullopt;
}
}  // namespace

std::optional<std::string_view> request::header_value(std::string_view name) const { return find(headers, name); }
std::optional<std::string_view> response::header_value(std::string_view name) const { return find(headers, name); }

void response::set_header(std::string_view name, std::string value) {
  std::erase_if(headers, [&](const header& h) { return iequals(h.name, name); });
  headers.push_back(header{std::string(name), std::move(value)});
}

void completion::complete(std::optional<response> replacement) {
  callback then;
  {
    std::lock_guard lock(mutex_);
    completed_ = true;
    if (!then_) {
      replacement_ = std::move(replacement);
      return;
    }
    then = std::move(then_);
  }
  then(std::move(replacement));
}

void completion::on_complete(callback then) {
  {
    std::lock_guard lock(mutex_);
    if (!completed_) {
      then_ = std::move(then);
      return;
    }
  }
  then(std::move(replacement_));
}

void settle(response& r) {
  if (!r.after) return;
  std::promise<std::optional<response>> done;
  auto settled = done.get_future();
  std::shared_ptr<completion> after = std::move(r.after);
  after->on_complete([&done](std::optional<response> replacement) { done.set_value(std::move(replacement)); });
  if (auto replacement = settled.get()) r = std::move(*replacement);
}

std::string_view reason_phrase(unsigned status) {
  switch (status) {
    case 100: return "Continue";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 406: return "Not Acceptable";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 412: return "Precondition Failed";
    case 413: return "Payload Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
  }
  return "Unknown";
}

}  // namespace server::http
