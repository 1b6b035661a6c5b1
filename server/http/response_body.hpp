#pragma once
// The one Beast body type of every response the server writes: the text a handler built, or a file
// streamed from disk as it is sent (bulk export files can be larger than memory should hold). Internal
// to the HTTP transport (server/http/*.cpp only).
//
// Why one type: each body type Beast writes instantiates its whole chain of write operations for the
// stream (serializer, write op, TLS record op), and that chain is most of the compile time of the
// session template. With a string, a file and an empty body (HEAD), tls_session.cpp took 86 s alone at
// -O3; with this type, about half.

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/file_body.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/optional/optional.hpp>

namespace server::http {

struct response_body {
  struct value_type {
    std::string text;
    // Open: the body is this file's content, and `text` is ignored.
    boost::beast::http::file_body::value_type file;
  };

  // Content-Length (Beast's prepare_payload). A HEAD response leaves the body empty and sets
  // Content-Length itself, to what a GET would send.
  static std::uint64_t size(const value_type& body) { return body.file.is_open() ? body.file.size() : body.text.size(); }

  // Delegates to Beast's own writers for a string and a file; both hand out one const_buffer at a time.
  class writer {
    using text_writer = boost::beast::http::string_body::writer;
    using file_writer = boost::beast::http::file_body::writer;

   public:
    using const_buffers_type = boost::asio::const_buffer;

    template <bool isRequest, class Fields>
    writer(boost::beast::http::header<isRequest, Fields>& header, value_type& body) {
      if (body.file.is_open())
        file_.emplace(header, body.file);
      else
        text_.emplace(header, body.text);
    }

    void init(boost::beast::error_code& ec) { file_ ? file_->init(ec) : text_->init(ec); }

    boost::optional<std::pair<const_buffers_type, bool>> get(boost::beast::error_code& ec) {
      return file_ ? file_->get(ec) : text_->get(ec);
    }

   private:
    std::optional<text_writer> text_;
    std::optional<file_writer> file_;
  };
};

}  // namespace server::http
